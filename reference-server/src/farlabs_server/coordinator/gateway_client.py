"""Talking to a node's gateway: `POST /generate` and its SSE events (docs/protocol.md, "Gateway")."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

import aiohttp
import anyio
from aiohttp.http_exceptions import HttpProcessingError

from farlabs_protocol import CLIENT_FAULT_TYPES

from .. import untrusted_json


@dataclass(frozen=True)
class GatewayEvent:
    kind: str  # "token", "done" or "error"
    data: dict[str, Any]


class GatewayFailure(Exception):
    """The gateway could not serve the request. `client_fault` errors are the caller's and are not retried."""

    def __init__(self, message: str, *, error: dict[str, Any] | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.error = error or {}
        self.status = status

    @property
    def client_fault(self) -> bool:
        return self.error.get("type") in CLIENT_FAULT_TYPES


async def parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[GatewayEvent]:
    """SSE frames → events; comments (keep-alives) are dropped here, so they never count as progress."""
    event, data = "message", list[str]()
    async for line in lines:
        if not line:
            if data:
                payload = untrusted_json.loads("\n".join(data))
                yield GatewayEvent("token" if event == "message" else event, payload)
            event, data = "message", list[str]()
        elif line.startswith(":"):
            continue
        else:
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "event":
                event = value
            elif field == "data":
                data.append(value)


def new_gateway_session(*, max_connections: int, keepalive_s: float) -> aiohttp.ClientSession:
    """The coordinator's one HTTP client to every gateway (in a running event loop).

    aiohttp rather than httpx on this hop: it is the first-token path of every request, and aiohttp's C parser
    takes ~0.35 ms less to the first byte and a third of the CPU per stream (bench/relay_overhead.py). It is
    already installed, by web3. No proxies or .netrc from the environment: gateways are reached directly.
    """
    connector = aiohttp.TCPConnector(limit=max_connections, limit_per_host=0, keepalive_timeout=keepalive_s)
    return aiohttp.ClientSession(connector=connector, trust_env=False, raise_for_status=False)


@asynccontextmanager
async def open_generation(
    http: aiohttp.ClientSession, gateway_url: str, gateway_token: str, body: dict[str, Any], *, request_id: str,
    connect_timeout_s: float,
) -> AsyncIterator[AsyncIterator[GatewayEvent]]:
    """Start a generation; yields its event stream. Leaving the block before the stream's end closes the
    connection (that is what stops the node); a stream read to its end leaves it in the pool for the next one.

    Whatever goes wrong on the gateway's side, while connecting or later while the block reads the stream
    (refused, dropped, a malformed event), comes out as GatewayFailure.
    """
    headers = {"Authorization": f"Bearer {gateway_token}", "X-Request-ID": request_id, "Accept": "text/event-stream"}
    # Reads are bounded by the coordinator's own per-token idle timeout; `connect` covers waiting for a pooled
    # connection too.
    timeout = aiohttp.ClientTimeout(total=None, connect=connect_timeout_s, sock_read=None)
    try:
        async with http.post(gateway_url.rstrip("/") + "/generate", json=body, headers=headers,
                             timeout=timeout) as response:
            if response.status != 200:
                raw = await response.read()
                try:
                    error = untrusted_json.loads(raw).get("error", {})
                except (ValueError, AttributeError):
                    error = {}
                raise GatewayFailure(f"gateway answered {response.status}", error=error, status=response.status)
            yield parse_sse(_lines(response.content))
    except aiohttp.ClientError as exc:
        raise GatewayFailure(f"gateway unreachable: {type(exc).__name__}") from exc
    except (ValueError, HttpProcessingError) as exc:  # not JSON, nested too deep, bad ids; aiohttp's parse errors
        raise GatewayFailure(f"gateway sent a malformed event: {type(exc).__name__}") from exc


async def _lines(body: aiohttp.StreamReader) -> AsyncIterator[str]:
    """The body's lines without their ends (SSE allows \n or \r\n)."""
    async for raw in body:
        yield raw.decode("utf-8", "replace").rstrip("\r\n")


async def finish_cleanly(events: AsyncIterator[GatewayEvent], timeout_s: float) -> None:
    """After the `done` event: read to the end of the response (the gateway ends it at once) so the kept-alive
    connection can serve the next request. Anything later is ignored; if the end is slow to come, the
    connection is simply closed when the block is left."""
    with anyio.move_on_after(timeout_s):
        async for _ in events:
            pass
