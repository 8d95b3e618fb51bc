"""The TypeScript SDK's integration suite (vitest) against this session's real mesh."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

from farlabs_devtools.localmesh import LocalMesh

ROOT = Path(__file__).resolve().parents[1]


def test_ts_sdk_integration(mesh: LocalMesh, api_key: str, covered: Any) -> None:
    npm = shutil.which("npm")
    assert npm, "npm is required (make test installs the workspace)"
    env = {**os.environ, "FARLABS_BASE_URL": mesh.url, "FARLABS_API_KEY": api_key}
    result = subprocess.run([npm, "run", "test:integration", "-w", "ts-sdk"], cwd=ROOT, env=env, capture_output=True,
                            text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
