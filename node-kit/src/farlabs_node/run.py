"""`far-node run`: a `NodeRuntime` under SIGINT/SIGTERM, then a sweep of every process the node started."""

from __future__ import annotations

import asyncio
import logging
import signal

from farlabs_node.config import default_torch_threads
from farlabs_node.runtime import NodeRuntime, StoppedDuringStartup
from farlabs_node.settings import NodeSettings

logger = logging.getLogger("farlabs_node")


def run_node(settings: NodeSettings) -> int:
    """Run until SIGINT/SIGTERM; then stop every child process. Returns the exit code."""
    from farlabs_node._process import stop_descendants

    code = 0
    try:
        _set_torch_threads(settings)
        asyncio.run(_run(NodeRuntime(settings)))
    except (KeyboardInterrupt, asyncio.CancelledError, StoppedDuringStartup):
        pass
    except Exception as exc:
        logger.error("far-node run failed: %s", exc)
        code = 1
    finally:
        stop_descendants()
        print("Far Node stopped.", flush=True)
    return code


async def _run(runtime: NodeRuntime) -> None:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.request_stop)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per heartbeat is enough
    await runtime.run()


def _set_torch_threads(settings: NodeSettings) -> None:
    threads = settings.torch_threads or default_torch_threads(settings.host, settings.mode, settings.device)
    if threads:
        import torch

        torch.set_num_threads(threads)
