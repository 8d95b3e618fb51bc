"""A synthetic node gateway on a real loopback port: the gateway protocol (docs/protocol.md) without a model.

It stands in for a GPU where a test needs faults on demand (fail before the first token, die or stall
mid-stream, report a route). Token i is the text " w{i}" with id i, so a resumed generation is checkably
identical to an uninterrupted one. Tests of the real thing run node-kit on a Petals swarm.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from farlabs_protocol import error_envelope, sse_event

from ..ports import free_port


@dataclass
class Behaviour:
    token_delay_s: float = 0.0
    fail_status: int | None = None  # answer every request with this HTTP status
    fail_error_type: str = "overloaded_error"
    die_after: int | None = None  # drop the connection after this many tokens
    stall_after: int | None = None  # go silent after this many tokens
    eos_after: int | None = None  # finish with "stop" after this many tokens in total
    route: list[dict[str, Any]] = field(default_factory=list)
    prompt_tokens: int = 7
    token_suffix: str = ""  # e.g. "\x00": what a random model can emit


class SyntheticGateway:
    def __init__(self, behaviour: Behaviour | None = None) -> None:
        self.behaviour = behaviour or Behaviour()
        self.token: str | None = None
        self.requests: list[dict[str, Any]] = []
        self.client_ports: list[int] = []  # the coordinator's side of the connection, per request
        self.cancelled = threading.Event()
        self.finished = threading.Event()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._server = uvicorn.Server(uvicorn.Config(self._app(), host="127.0.0.1", port=self.port, log_level="error",
                                                     lifespan="off"))
        self._thread = threading.Thread(target=self._server.run, daemon=True)

    def __enter__(self) -> SyntheticGateway:
        self._thread.start()
        while not self._server.started:
            threading.Event().wait(0.01)
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)

    def _app(self) -> Starlette:
        async def generate(request: Request) -> Response:
            if request.headers.get("authorization") != f"Bearer {self.token}":
                return JSONResponse(error_envelope("authentication_error", "invalid_gateway_token", "no", None),
                                    status_code=401)
            body = await request.json()
            self.requests.append(body)
            self.client_ports.append(request.client.port if request.client else 0)
            b = self.behaviour
            if b.fail_status is not None:
                return JSONResponse(error_envelope(b.fail_error_type, "synthetic", "refused", body.get("request_id")),
                                    status_code=b.fail_status)
            return StreamingResponse(self._stream(body), media_type="text/event-stream")

        async def healthz(request: Request) -> Response:
            return JSONResponse({"status": "ok"})

        return Starlette(routes=[Route("/generate", generate, methods=["POST"]), Route("/healthz", healthz)])

    async def _stream(self, body: dict[str, Any]) -> AsyncIterator[bytes]:
        b = self.behaviour
        start = len(body.get("prefix_token_ids") or [])
        produced = 0
        finish = "length"
        try:
            for i in range(start, body["max_tokens"]):
                if b.eos_after is not None and i >= b.eos_after:
                    finish = "stop"
                    break
                if b.die_after is not None and produced >= b.die_after:
                    raise ConnectionAbortedError("synthetic gateway died")  # uvicorn drops the connection
                if b.stall_after is not None and produced >= b.stall_after:
                    await asyncio.sleep(3600)
                if b.token_delay_s:
                    await asyncio.sleep(b.token_delay_s)
                produced += 1
                yield sse_event({"token": f" w{i}{b.token_suffix}", "token_ids": [i]}).encode()
            done = {"finish_reason": finish, "prompt_tokens": b.prompt_tokens, "completion_tokens": produced,
                    "route": b.route}
            yield sse_event(done, "done").encode()
            self.finished.set()
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


def expected_text(n: int) -> str:
    return "".join(f" w{i}" for i in range(n))
