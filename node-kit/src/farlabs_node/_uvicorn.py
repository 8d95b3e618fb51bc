"""The gateway's HTTP server: uvicorn, started and stopped by `NodeRuntime` rather than by signals."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from typing import Any


class GatewayServer:
    """uvicorn's Server without its signal capture (it re-raises SIGTERM after serving, killing the node's cleanup)."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self.server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))
        self.task: asyncio.Task[None] | None = None

    async def start(self) -> asyncio.Task[None]:
        """Serve in a task; return it once the socket listens (raises the bind error when it cannot)."""
        self.task = asyncio.create_task(self.server.serve())
        while not self.server.started and not self.task.done():  # noqa: ASYNC110  (uvicorn has only a flag)
            await asyncio.sleep(0.05)
        if self.task.done():
            self.task.result()  # raises the bind error
            raise RuntimeError("gateway stopped during start-up")
        return self.task

    def stop(self) -> None:
        self.server.should_exit = True
