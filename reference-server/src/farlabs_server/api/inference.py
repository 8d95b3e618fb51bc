"""HTTP wiring of the coordinator: the native SSE endpoint and the OpenAI-compatible one (vLLM's shapes)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import anyio
from starlette.responses import JSONResponse, Response
from starlette.types import Receive, Scope, Send

from farlabs_protocol import KEEPALIVE, sse_event

from ..coordinator.engine import Coordinator, Generation, TokenEvent
from ..coordinator.metering import display
from ..coordinator.models import (
    ChatCompletionChunk,
    ChatCompletionRequest,
    GenerateRequest,
    GenerateResult,
    ModelCard,
    ModelList,
    StreamToken,
)
from ..db import nodes as db_nodes
from ..errors import ApiError, InvalidRequestError
from .endpoints import Call, Endpoint, SseEvent

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}

Item = TokenEvent | GenerateResult | ApiError


def coordinator_of(call: Call) -> Coordinator:
    coordinator: Coordinator = call.request.app.state.coordinator
    return coordinator


def _idempotency_key(call: Call) -> str | None:
    key = call.request.headers.get("idempotency-key")
    if key is not None and not (0 < len(key) <= 200 and key.isprintable()):
        raise InvalidRequestError("Idempotency-Key must be 1 to 200 printable characters.", code="invalid_idempotency_key")
    return key


async def _start(call: Call, req: GenerateRequest) -> Generation:
    assert call.principal is not None
    return await coordinator_of(call).start(req, api_key_id=call.principal.api_key_id,
                                            idempotency_key=_idempotency_key(call))


_KEEPALIVE = KEEPALIVE.encode()


def _sse(data: dict[str, Any], event: str | None = None) -> bytes:
    return sse_event(data, event).encode()


class EventStreamResponse(Response):
    """SSE fed by a generation running in its own task, with keep-alive comments while the swarm is quiet.

    The client's disconnect is watched for directly (not discovered at the next write), and cancels the
    generation at once: the upstream gateway request is closed and the session recorded as cancelled.
    """

    media_type = "text/event-stream"

    def __init__(self, first: Item, rest: AsyncIterator[Item], render: Callable[[Item], list[bytes]],
                 closing: list[bytes], keepalive_s: float) -> None:
        # Not Response.__init__: it would declare a Content-Length for an empty body.
        self.status_code, self.background = 200, None
        self.init_headers(SSE_HEADERS)
        self.first, self.rest, self.render_item, self.closing = first, rest, render, closing
        self.keepalive_s = keepalive_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": self.raw_headers})
        items, inbox = anyio.create_memory_object_stream[Item](max_buffer_size=64)

        async def produce() -> None:
            async with items:
                try:
                    async for item in self.rest:
                        await items.send(item)
                except ApiError as exc:
                    await items.send(exc)

        async def watch_disconnect() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            tg.cancel_scope.cancel()

        async def write(chunk: bytes) -> None:
            await send({"type": "http.response.body", "body": chunk, "more_body": True})

        async with anyio.create_task_group() as tg:
            tg.start_soon(produce)
            tg.start_soon(watch_disconnect)
            for chunk in self.render_item(self.first):
                await write(chunk)
            async with inbox:
                while True:
                    try:
                        with anyio.fail_after(self.keepalive_s):
                            item = await inbox.receive()
                    except TimeoutError:
                        await write(_KEEPALIVE)
                        continue
                    except anyio.EndOfStream:
                        break
                    for chunk in self.render_item(item):
                        await write(chunk)
            for chunk in self.closing:
                await write(chunk)
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            tg.cancel_scope.cancel()


async def stream_response(call: Call, generation: Generation, render: Callable[[Item], list[bytes]],
                          closing: list[bytes]) -> Response:
    """Wait for the first token before sending anything: a request that cannot start gets a plain HTTP
    error (so the SDKs raise at the call, not inside the loop); then stream the rest."""
    events = generation.events()
    try:
        first = await anext(events)
    except BaseException:
        await events.aclose()
        raise
    return EventStreamResponse(first, events, render, closing, call.ctx.settings.sse_keepalive_s)


async def _whole(generation: Generation) -> GenerateResult:
    """Run a generation to its end (no stream) and return its final result."""
    result: GenerateResult | None = None
    async for item in generation.events():
        if isinstance(item, GenerateResult):
            result = item
    assert result is not None  # events() always ends with the result or raises
    return result


def _error_event(exc: ApiError, request_id: str) -> bytes:
    return _sse(exc.payload(request_id), "error")


# ---------------------------------------------------------------- native


def _native_done(result: GenerateResult) -> dict[str, Any]:
    data = result.model_dump(mode="json")
    data["cost_far"] = display(result.cost_far)
    return data


async def generate(call: Call) -> Response:
    req: GenerateRequest = call.body
    generation = await _start(call, req)
    if not req.stream:
        return JSONResponse(_native_done(await _whole(generation)))

    def render(item: Item) -> list[bytes]:
        if isinstance(item, TokenEvent):
            return [_sse({"token": item.token, "request_id": generation.request_id,
                          "tokens_generated": item.tokens_generated, "cost_far": display(item.cost_far)})]
        if isinstance(item, GenerateResult):
            return [_sse(_native_done(item), "done")]
        return [_error_event(item, call.request_id)]

    return await stream_response(call, generation, render, closing=[])


# ---------------------------------------------------------------- OpenAI-compatible


async def chat_completions(call: Call) -> Response:
    body: ChatCompletionRequest = call.body
    req = GenerateRequest(
        messages=body.messages, model_id=body.model, max_tokens=body.max_completion_tokens or body.max_tokens,
        temperature=body.temperature, top_p=body.top_p, stop=body.stop, seed=body.seed, stream=body.stream,
    )
    generation = await _start(call, req)
    completion_id = "chatcmpl-" + generation.request_id.removeprefix("gen_")
    created = int(time.time())
    include_usage = bool(body.stream_options and body.stream_options.include_usage)

    if not body.stream:
        result = await _whole(generation)
        return JSONResponse({
            "id": completion_id, "object": "chat.completion", "created": created, "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": result.text, "tool_calls": []},
                         "logprobs": None, "finish_reason": _openai_finish(result.finish_reason), "stop_reason": None}],
            "usage": result.usage.model_dump(), "prompt_logprobs": None,
            "far": {"cost_far": display(result.cost_far), "session_id": str(result.session_id),
                    "request_id": result.request_id},
        })

    first_chunk = True

    def chunk(choices: list[dict[str, Any]], usage: Any = None, with_usage_field: bool = include_usage) -> bytes:
        data: dict[str, Any] = {"id": completion_id, "object": "chat.completion.chunk", "created": created,
                                "model": body.model, "choices": choices}
        if with_usage_field:
            data["usage"] = usage
        return _sse(data)

    def render(item: Item) -> list[bytes]:
        nonlocal first_chunk
        if isinstance(item, TokenEvent):
            out = []
            if first_chunk:
                first_chunk = False
                out.append(chunk([{"index": 0, "delta": {"role": "assistant", "content": ""}, "logprobs": None,
                                   "finish_reason": None}]))
            out.append(chunk([{"index": 0, "delta": {"content": item.token}, "logprobs": None, "finish_reason": None}]))
            return out
        if isinstance(item, GenerateResult):
            out = [chunk([{"index": 0, "delta": {}, "logprobs": None,
                           "finish_reason": _openai_finish(item.finish_reason), "stop_reason": None}])]
            if include_usage:
                out.append(chunk([], item.usage.model_dump()))
            return out
        return [_error_event(item, call.request_id)]

    return await stream_response(call, generation, render, closing=[b"data: [DONE]\n\n"])


def _openai_finish(reason: str) -> str:
    return "length" if reason == "length" else "stop"


async def list_models(call: Call) -> ModelList:
    settings = call.ctx.settings
    async with call.ctx.db.pool.acquire() as conn:
        served = await db_nodes.served_models(conn, now=call.ctx.clock())
    cards = {m.model_id: ModelCard(id=m.model_id, created=m.created) for m in served}
    cards.setdefault(settings.default_model_id, ModelCard(id=settings.default_model_id, created=0))
    return ModelList(data=sorted(cards.values(), key=lambda c: c.id))


_ERROR_EVENT = SseEvent("error", "A failure after the stream started (the error envelope; `stream_interrupted` "
                                  "adds `partial_text`). The stream ends after it.")
NATIVE_EVENTS = (
    SseEvent(None, "One per generated token.", StreamToken),
    SseEvent("done", "The last event: the whole answer, its usage, cost and route.", GenerateResult),
    _ERROR_EVENT,
)
OPENAI_EVENTS = (
    SseEvent(None, "A chat.completion.chunk: the first carries the role, then one per token, then one with "
                   "finish_reason (and, with stream_options.include_usage, one with usage and no choices).",
             ChatCompletionChunk),
    _ERROR_EVENT,
    SseEvent(None, "`data: [DONE]`: the end of the stream (not JSON)."),
)

ENDPOINTS = [
    Endpoint("POST", "/mesh/inference/generate", generate, "Generate text over the mesh (SSE or JSON)", "inference",
             request_model=GenerateRequest, response_model=GenerateResult, streams=True, sse_events=NATIVE_EVENTS),
    Endpoint("POST", "/v1/chat/completions", chat_completions, "OpenAI-compatible chat completions", "openai",
             request_model=ChatCompletionRequest, streams=True, sse_events=OPENAI_EVENTS,
             response_media="application/json"),
    Endpoint("GET", "/v1/models", list_models, "Models served by the mesh (OpenAI-compatible)", "openai",
             auth="public", response_model=ModelList),
]
