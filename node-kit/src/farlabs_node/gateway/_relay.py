"""Run one generation in a worker thread and relay it to the event loop as SSE text."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import AsyncIterator
from typing import Any

from farlabs_node.gateway.engine import Engine, GenerationResult, SamplingParams, generate
from farlabs_protocol import KEEPALIVE, error_envelope, sse_event

logger = logging.getLogger("farlabs_node.gateway")
KEEPALIVE_S = 10.0


class GenerationRun:
    """A generation running in its own thread; `next()` yields ("piece" | "done" | "error", item)."""

    def __init__(
        self,
        engine: Engine,
        slots: threading.BoundedSemaphore,
        prompt_ids: list[int],
        params: SamplingParams,
        prefix_ids: list[int],
        request_id: str,
    ) -> None:
        self.request_id = request_id
        self.result = GenerationResult()
        self.cancel = threading.Event()
        loop = asyncio.get_running_loop()
        self._queue: asyncio.Queue[tuple[str, Any]] = asyncio.Queue()

        def put(item: tuple[str, Any]) -> None:
            loop.call_soon_threadsafe(self._queue.put_nowait, item)

        def work() -> None:
            with slots:  # bounds concurrent generations; later requests wait their turn
                try:
                    for piece in generate(engine, prompt_ids, params, self.result, self.cancel, prefix_ids):
                        put(("piece", piece))
                    put(("done", None))
                except BaseException as exc:  # delivered to the caller as an error
                    put(("error", exc))

        threading.Thread(target=work, name=f"generate-{request_id}", daemon=True).start()

    async def next(self, timeout_s: float | None = None) -> tuple[str, Any]:
        if timeout_s is None:
            return await self._queue.get()
        return await asyncio.wait_for(self._queue.get(), timeout_s)


def error_status(exc: BaseException, request_id: str) -> tuple[int, dict[str, Any]]:
    """HTTP status and error envelope for a generation that failed before its first token."""
    if type(exc).__name__ == "MissingBlocksError":
        return 503, error_envelope(
            "overloaded_error", "no_capacity", "no server in the swarm holds some of this model's blocks now", request_id
        )
    text = str(exc) or type(exc).__name__
    if isinstance(exc, TimeoutError) or "timeout" in text.lower():
        return 504, error_envelope("timeout_error", "swarm_timeout", f"the swarm did not answer: {text}", request_id)
    return 500, error_envelope("api_error", "generation_failed", f"generation failed: {text}", request_id)


def done_payload(result: GenerationResult) -> dict[str, Any]:
    return {
        "finish_reason": result.finish_reason,
        "prompt_tokens": result.prompt_tokens,
        "completion_tokens": result.completion_tokens,
        "route": [{"peer_id": h.peer_id, "start_block": h.start_block, "end_block": h.end_block} for h in result.route],
    }


async def relay(run: GenerationRun, first: tuple[str, Any]) -> AsyncIterator[str]:
    """SSE text for `run`, starting with its already-received `first` item; stops the run if the caller leaves."""
    finished = False
    item_kind, item = first
    try:
        while True:
            if item_kind == "piece":
                yield sse_event({"token": item.text, "token_ids": item.token_ids})
            else:
                finished = True
                if item_kind == "done":
                    result = run.result
                    logger.info(
                        "request %s: %d prompt + %d completion tokens, finish=%s",
                        run.request_id,
                        result.prompt_tokens,
                        result.completion_tokens,
                        result.finish_reason,
                    )
                    yield sse_event(done_payload(result), event="done")
                else:
                    logger.error("request %s failed: %s", run.request_id, item)
                    yield sse_event(error_status(item, run.request_id)[1], event="error")
                return
            while True:
                try:
                    item_kind, item = await run.next(KEEPALIVE_S)
                    break
                except TimeoutError:
                    yield KEEPALIVE
    finally:
        # Reached early when the caller disconnected: the worker stops before its next token.
        run.cancel.set()
        if not finished:
            logger.info("request %s: caller disconnected, generation stopped", run.request_id)
