"""Build a model directory once: write into a temp dir beside the target, then rename (crash-safe, race-safe)."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

DONE_MARKER = ".farlabs-complete"


def build_once(target: Path, build: Callable[[Path], None]) -> Path:
    """Return `target`, calling `build(tmpdir)` to create it first when it is missing or incomplete."""
    if (target / DONE_MARKER).exists():
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}-", dir=target.parent))
    try:
        build(tmp)
        (tmp / DONE_MARKER).write_text("ok\n")
        if target.exists():  # an incomplete earlier attempt
            shutil.rmtree(target)
        try:
            os.rename(tmp, target)
        except OSError:
            if not (target / DONE_MARKER).exists():  # lost a race only if the winner finished
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
