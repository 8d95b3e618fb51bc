"""Process hygiene: stop every process this node started (Petals spawns DHT, p2pd and handler processes)."""

from __future__ import annotations

import contextlib
import logging
import os

import psutil

logger = logging.getLogger(__name__)


def stop_descendants(grace_s: float = 5.0) -> int:
    """SIGTERM all descendants, SIGKILL those still alive after `grace_s`; return how many were found.

    A SIGTERM to the main process alone leaves ~11 orphans (hivemind DHT, p2pd, handlers), hence the sweep.
    """
    me = psutil.Process(os.getpid())
    children = me.children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.terminate()
    _gone, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        with contextlib.suppress(psutil.NoSuchProcess):
            child.kill()
    psutil.wait_procs(alive, timeout=grace_s)
    if alive:
        logger.info("killed %d child processes that ignored SIGTERM", len(alive))
    return len(children)
