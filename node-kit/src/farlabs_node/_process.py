"""Process hygiene: stop every process this node started (Petals spawns DHT, p2pd and handler processes)."""

from __future__ import annotations

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
        try:
            child.terminate()
        except psutil.NoSuchProcess:
            pass
    _gone, alive = psutil.wait_procs(children, timeout=grace_s)
    for child in alive:
        try:
            child.kill()
        except psutil.NoSuchProcess:
            pass
    psutil.wait_procs(alive, timeout=grace_s)
    if alive:
        logger.info("killed %d child processes that ignored SIGTERM", len(alive))
    return len(children)
