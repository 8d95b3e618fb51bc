"""Stream objects: iterate for text, `.events()` for typed events, close early at will.

A stream reconnects (same `Idempotency-Key`) only while no token has arrived; after that an
error is raised with the text streamed so far in `partial_text`.
"""

from __future__ import annotations

import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Generator, Iterator
from decimal import Decimal
from types import TracebackType
from typing import TYPE_CHECKING, Any

import anyio
import httpx

from . import _constants as C
from ._base_client import RequestSpec, RetryController, Timeout, deadline_error, map_transport_error
from ._exceptions import APIConnectionError, APITimeoutError, FarLabsError
from ._models import ChatResponse, RouteHop, StreamEvent, TokenEvent, Usage
from ._sse import SSEDecoder, is_activity
from ._stream_state import StreamState

if TYPE_CHECKING:
    from ._base_client import AsyncAPIClient, SyncAPIClient

__all__ = ["AsyncStream", "Stream"]


class _StreamView:
    """The read-only surface both stream kinds share."""

    _state: StreamState

    @property
    def text(self) -> str:
        """All text so far (the whole answer once the stream is done)."""
        return self._state.text

    @property
    def usage(self) -> Usage:
        """Token counts; before the end only `completion_tokens` is known."""
        return self._state.usage

    @property
    def cost_far(self) -> Decimal | None:
        """Cost in FAR so far (cumulative), final once done; None before any token."""
        return self._state.cost_far

    @property
    def finish_reason(self) -> str | None:
        """``stop``, ``length``, ``cancelled`` (also after an early close), or None while open."""
        return self._state.finish_reason

    @property
    def request_id(self) -> str | None:
        """The request id (the server's, or the idempotency key that became it)."""
        return self._state.request_id

    @property
    def route(self) -> list[RouteHop]:
        """The servers and block spans that computed this generation (known at the end)."""
        return self._state.route

    @property
    def response(self) -> ChatResponse | None:
        """The final response, once the `done` event arrived."""
        return self._state.response


def _request_id_of(response: httpx.Response, fallback: str | None) -> str | None:
    return response.headers.get(C.REQUEST_ID_HEADER) or fallback


def _idle_error(timeout: Timeout) -> APITimeoutError:
    return APITimeoutError(
        f"no event from the server for {timeout.idle}s (keep-alives do not count)", kind="idle"
    )


class Stream(_StreamView):
    """A blocking generation stream. Iterate for text tokens; use as a context manager."""

    def __init__(
        self,
        *,
        client: SyncAPIClient,
        spec: RequestSpec,
        response: httpx.Response,
        timeout: Timeout,
        retry: RetryController,
    ) -> None:
        self._client, self._spec, self._timeout, self._retry = client, spec, timeout, retry
        self._response = response
        self._state = StreamState(_request_id_of(response, spec.idempotency_key))
        self._events = self._iter_events()
        self._closed = False

    def __iter__(self) -> Iterator[str]:
        for event in self._events:
            if isinstance(event, TokenEvent):
                yield event.token

    def events(self) -> Iterator[StreamEvent]:
        """Typed events: `TokenEvent` per token, then one `DoneEvent`."""
        yield from self._events

    def get_final_response(self) -> ChatResponse:
        """Read the rest of the stream and return the final response."""
        for _ in self._events:
            pass
        if self._state.response is None:
            raise APIConnectionError("the stream was closed before it finished")
        return self._state.response

    def close(self) -> None:
        """Stop reading and release the connection; the server stops generating."""
        if not self._state.done:
            self._state.closed_early = True
        self._closed = True
        self._events.close()
        self._response.close()

    def __enter__(self) -> Stream:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _iter_events(self) -> Generator[StreamEvent, None, None]:
        try:
            while True:
                try:
                    yield from self._read_response()
                    return
                except FarLabsError as error:
                    self._response.close()
                    self._state.annotate(error)
                    if self._state.first_token_seen or self._closed:
                        raise
                    delay = self._retry.delay_before_retry(error)
                    if delay is None:
                        raise
                    self._client.sleep(delay)
                    self._response = self._client.send_attempts(
                        self._spec, self._timeout, self._retry
                    )
                    self._state.request_id = _request_id_of(self._response, self._state.request_id)
        finally:
            self._response.close()

    def _read_response(self) -> Iterator[StreamEvent]:
        # Sync I/O cannot interrupt a blocked read, so silence on the socket is bounded by
        # httpx's read timeout (= idle) and a stall filled with keep-alives is caught at the
        # first line that arrives after the idle limit.
        decoder, deadline, idle = SSEDecoder(), self._retry.deadline, self._timeout.idle
        last_activity = time.monotonic()
        try:
            for line in self._response.iter_lines():
                now = time.monotonic()
                if is_activity(line):
                    last_activity = now
                elif idle is not None and now - last_activity > idle:
                    raise _idle_error(self._timeout)
                if deadline.expired():
                    raise deadline_error(self._timeout)
                sse = decoder.feed(line)
                event = self._state.feed(sse) if sse is not None else None
                if event is not None:
                    yield event
                    if self._state.done:
                        return
            sse = decoder.flush()
            if sse is not None and (event := self._state.feed(sse)) is not None:
                yield event
        except httpx.TransportError as exc:
            raise map_transport_error(exc, self._timeout) from exc
        if not self._state.done:
            raise APIConnectionError(
                "the stream ended before its final event", code="incomplete_stream"
            )


class AsyncStream(_StreamView):
    """An async generation stream (asyncio or trio).

    `await` it (or `async with` it) to open the connection and raise HTTP errors there;
    `async for` on an unopened stream opens it at the first step.
    """

    def __init__(
        self,
        *,
        client: AsyncAPIClient,
        spec: RequestSpec,
        on_close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._client, self._spec, self._on_close = client, spec, on_close
        self._response: httpx.Response | None = None
        self._timeout: Timeout | None = None
        self._retry: RetryController | None = None
        self._state = StreamState(spec.idempotency_key)
        # The one generator that reads the wire; `aclose` closes it, so breaking out of an
        # `async for` inside `async with` leaves nothing behind.
        self._events: AsyncGenerator[StreamEvent, None] | None = None
        self._closed = False

    async def _open(self) -> AsyncStream:
        if self._closed:
            raise APIConnectionError("the stream is closed")
        if self._response is None:
            try:
                self._response, self._timeout, self._retry = await self._client.send(self._spec)
            except BaseException:
                self._closed = True
                await self._release()
                raise
            self._state.request_id = _request_id_of(self._response, self._state.request_id)
        return self

    def __await__(self) -> Generator[Any, None, AsyncStream]:
        return self._open().__await__()

    async def __aenter__(self) -> AsyncStream:
        return await self._open()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    def __aiter__(self) -> AsyncStream:
        return self

    async def __anext__(self) -> str:
        """The next text token."""
        while True:
            event = await self._next_event()
            if isinstance(event, TokenEvent):
                return event.token

    def events(self) -> AsyncIterator[StreamEvent]:
        """Typed events: `TokenEvent` per token, then one `DoneEvent`."""
        return _AsyncEvents(self)

    async def get_final_response(self) -> ChatResponse:
        """Read the rest of the stream and return the final response."""
        async for _ in self.events():
            pass
        if self._state.response is None:
            raise APIConnectionError("the stream was closed before it finished")
        return self._state.response

    async def aclose(self) -> None:
        """Stop reading and release the connection; the server stops generating."""
        if not self._state.done:
            self._state.closed_early = True
        self._closed = True
        events, self._events = self._events, None
        if events is not None:
            await events.aclose()
        await self._release()

    close = aclose

    async def _next_event(self) -> StreamEvent:
        if self._events is None:
            if self._closed:
                raise StopAsyncIteration
            await self._open()
            self._events = self._iter_events()
        return await self._events.__anext__()

    async def _release(self) -> None:
        if self._response is not None:
            await self._response.aclose()
        on_close, self._on_close = self._on_close, None
        if on_close is not None:
            await on_close()

    async def _iter_events(self) -> AsyncGenerator[StreamEvent, None]:
        assert self._retry is not None and self._timeout is not None
        try:
            while True:
                reader = self._read_response()
                try:
                    async for event in reader:
                        yield event
                    return
                except FarLabsError as error:
                    if self._response is not None:
                        await self._response.aclose()
                    self._state.annotate(error)
                    if self._state.first_token_seen or self._closed:
                        raise
                    delay = self._retry.delay_before_retry(error)
                    if delay is None:
                        raise
                    await self._client.sleep(delay)
                    self._response = await self._client.send_attempts(
                        self._spec, self._timeout, self._retry
                    )
                    self._state.request_id = _request_id_of(self._response, self._state.request_id)
                finally:
                    await reader.aclose()  # closed now, not whenever it is collected
        finally:
            await self._release()

    async def _read_response(self) -> AsyncGenerator[StreamEvent, None]:
        assert self._response is not None and self._retry is not None and self._timeout is not None
        decoder, deadline, timeout = SSEDecoder(), self._retry.deadline, self._timeout
        lines = self._response.aiter_lines()
        last_activity = time.monotonic()
        try:
            while True:
                # Wait no longer than the idle limit counted from the last real event (so
                # keep-alives do not extend it) and no longer than the deadline.
                idle_left = (
                    None
                    if timeout.idle is None
                    else last_activity + timeout.idle - time.monotonic()
                )
                wait = deadline.cap(idle_left)
                try:
                    with anyio.fail_after(max(wait, 0.0) if wait is not None else None):
                        line = await lines.__anext__()
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    expired = deadline.expired()
                    raise (deadline_error(timeout) if expired else _idle_error(timeout)) from None
                if is_activity(line):
                    last_activity = time.monotonic()
                sse = decoder.feed(line)
                event = self._state.feed(sse) if sse is not None else None
                if event is not None:
                    yield event
                    if self._state.done:
                        return
            sse = decoder.flush()
            if sse is not None and (event := self._state.feed(sse)) is not None:
                yield event
        except httpx.TransportError as exc:
            raise map_transport_error(exc, timeout) from exc
        finally:
            await lines.aclose()  # type: ignore[attr-defined]
        if not self._state.done:
            raise APIConnectionError(
                "the stream ended before its final event", code="incomplete_stream"
            )


class _AsyncEvents:
    """`AsyncStream.events()`: an iterator object, not a generator, so nothing is left
    suspended when the caller stops early."""

    def __init__(self, stream: AsyncStream) -> None:
        self._stream = stream

    def __aiter__(self) -> _AsyncEvents:
        return self

    async def __anext__(self) -> StreamEvent:
        return await self._stream._next_event()
