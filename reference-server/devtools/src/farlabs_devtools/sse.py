"""One reader of server-sent events for the tests, the benchmarks and the demo, on httpx_sse's decoder.

Each event comes with its data parsed: the server's events carry JSON, except the OpenAI surface's closing
`[DONE]`, which comes as that text. Comments (the keep-alives) are not events and are skipped. The Python
SDK has its own decoder: that one is product code.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any, NamedTuple

import httpx
from httpx_sse import EventSource, ServerSentEvent, connect_sse

DONE = "[DONE]"


class Event(NamedTuple):
    name: str  # "message" unless the stream named it ("done", "error")
    data: Any  # the parsed JSON, or the text DONE


def _parsed(sse: ServerSentEvent) -> Event:
    return Event(sse.event, sse.data if sse.data == DONE else json.loads(sse.data))


def iter_events(response: httpx.Response) -> Iterator[Event]:
    """The events of an open streaming response, as they arrive."""
    for sse in EventSource(response).iter_sse():
        yield _parsed(sse)


async def aiter_events(response: httpx.Response) -> AsyncIterator[Event]:
    """The events of an open streaming response of an `httpx.AsyncClient`, as they arrive."""
    async for sse in EventSource(response).aiter_sse():
        yield _parsed(sse)


def post_events(url: str, body: Mapping[str, Any], *, headers: Mapping[str, str] | None = None,
                timeout_s: float = 60.0) -> list[Event]:
    """POST `body` as JSON and read the whole stream; an answer other than 200 fails with its body."""
    with httpx.Client(timeout=timeout_s) as client, \
            connect_sse(client, "POST", url, json=dict(body), headers=dict(headers or {})) as source:
        response = source.response
        if response.status_code != 200:
            raise AssertionError(f"{url} answered {response.status_code}: {response.read().decode(errors='replace')}")
        return list(iter_events(response))
