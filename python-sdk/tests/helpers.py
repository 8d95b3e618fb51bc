"""Server-side fakes for unit tests: SSE bodies in the protocol's shapes (docs/protocol.md)."""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator, Iterable, Iterator
from typing import Any

import anyio
import httpx

BASE_URL = "http://127.0.0.1:8100"
GENERATE_URL = f"{BASE_URL}/mesh/inference/generate"
SSE_HEADERS = {"content-type": "text/event-stream", "x-request-id": "req_header"}

Chunk = bytes | float  # a float is a pause, in seconds, before the next chunk


def token(text: str, n: int, cost: str, request_id: str = "test_001") -> bytes:
    payload = {"token": text, "request_id": request_id, "tokens_generated": n, "cost_far": cost}
    return f"data: {json.dumps(payload)}\n\n".encode()


def done(text: str = "Hello world", **overrides: Any) -> bytes:
    payload: dict[str, Any] = {
        "request_id": "test_001",
        "session_id": "sess_1",
        "model_id": "HuggingFaceTB/SmolLM2-135M-Instruct",
        "finish_reason": "length",
        "usage": {"prompt_tokens": 9, "completion_tokens": 2, "total_tokens": 11},
        "cost_far": "0.0002",
        "text": text,
        "route": [
            {"node_id": "n1", "peer_id": "12D3KooA", "start_block": 0, "end_block": 15},
            {"node_id": "n2", "peer_id": "12D3KooB", "start_block": 15, "end_block": 30},
        ],
        "time_to_first_token_ms": 412.5,
    }
    payload.update(overrides)
    return f"event: done\ndata: {json.dumps(payload)}\n\n".encode()


def error_event(type_: str, code: str, message: str = "boom", **extra: Any) -> bytes:
    envelope = {"type": type_, "code": code, "message": message, "request_id": "test_001", **extra}
    return f"event: error\ndata: {json.dumps({'error': envelope})}\n\n".encode()


KEEP_ALIVE = b": keep-alive\n\n"


def keep_alives(count: int, every_s: float = 0.02) -> list[Chunk]:
    """A stalled stream: only keep-alive comments, `every_s` apart."""
    return [every_s, KEEP_ALIVE] * count


HELLO_WORLD = [token("Hello", 1, "0.0001"), token(" world", 2, "0.0002"), done()]


def envelope(
    status: int,
    type_: str,
    code: str,
    *,
    headers: dict[str, str] | None = None,
    param: str | None = None,
) -> httpx.Response:
    error: dict[str, Any] = {
        "type": type_,
        "code": code,
        "message": f"{code} happened",
        "request_id": "req_err",
    }
    if param:
        error["param"] = param
    return httpx.Response(
        status, json={"error": error}, headers={"x-request-id": "req_err", **(headers or {})}
    )


def _sync_body(chunks: Iterable[Chunk]) -> Iterator[bytes]:
    for chunk in chunks:
        if isinstance(chunk, float):
            time.sleep(chunk)
        else:
            yield chunk


async def _async_body(chunks: Iterable[Chunk]) -> AsyncIterator[bytes]:
    for chunk in chunks:
        if isinstance(chunk, float):
            await anyio.sleep(chunk)
        else:
            yield chunk


def sse(chunks: Iterable[Chunk], *, is_async: bool = False) -> httpx.Response:
    """A streaming 200 response whose body is produced chunk by chunk, with pauses."""
    content: Any = _async_body(chunks) if is_async else _sync_body(chunks)
    return httpx.Response(200, headers=SSE_HEADERS, content=content)


def sent_json(route_call: Any) -> Any:
    return json.loads(route_call.request.content)
