"""The request core shared by the sync and async clients.

Everything that decides (headers, timeouts, which errors to retry, how long to wait, how to
map an error) is plain code here, used by both; `SyncAPIClient` and `AsyncAPIClient` only do the
I/O (send, read, sleep).
"""

from __future__ import annotations

import json
import logging
import random
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio
import httpx

from . import _constants as C
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    FarLabsError,
    InternalServerError,
    error_from_response,
)
from ._version import __version__

log = logging.getLogger("farlabs")


@dataclass(frozen=True)
class Timeout:
    """Client-side time limits, in seconds (None: no limit).

    Attributes:
        connect: to open the TCP connection.
        idle: silence allowed between two events of a stream; keep-alive comments do not count
            as activity. (A whole-answer call is silent until the answer is ready, so it waits up
            to `total` instead.)
        total: the overall deadline of one call, across every retry, streams included; raise it
            (or set None) for very long generations on a slow swarm.
    """

    connect: float | None = C.DEFAULT_CONNECT_TIMEOUT_S
    idle: float | None = C.DEFAULT_IDLE_TIMEOUT_S
    total: float | None = C.DEFAULT_TOTAL_TIMEOUT_S

    @classmethod
    def coerce(cls, value: Timeout | float | None) -> Timeout:
        """A `Timeout` as is; a number is the overall deadline (connect/idle capped by it)."""
        if value is None or isinstance(value, Timeout):
            return value or cls(connect=None, idle=None, total=None)
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise ValueError(
                f"timeout must be a positive number of seconds or a Timeout, got {value!r}"
            )
        total = float(value)
        return cls(
            connect=min(C.DEFAULT_CONNECT_TIMEOUT_S, total),
            idle=min(C.DEFAULT_IDLE_TIMEOUT_S, total),
            total=total,
        )


class Deadline:
    """The overall deadline of one call, on the monotonic clock."""

    def __init__(self, total_s: float | None) -> None:
        self._at = None if total_s is None else time.monotonic() + total_s

    def remaining(self) -> float | None:
        """Seconds left (never negative), or None without a deadline."""
        return None if self._at is None else max(0.0, self._at - time.monotonic())

    def expired(self) -> bool:
        left = self.remaining()
        return left is not None and left <= 0

    def cap(self, seconds: float | None) -> float | None:
        """`seconds` shortened to what is left of the deadline."""
        left = self.remaining()
        if left is None:
            return seconds
        return left if seconds is None else min(seconds, left)


@dataclass(frozen=True)
class ClientOptions:
    """Everything a client is configured with; immutable, copied by `with_options`."""

    api_key: str | None = field(repr=False)
    base_url: str
    timeout: Timeout
    max_retries: int
    default_headers: Mapping[str, str] = field(default_factory=dict)


@dataclass
class RequestSpec:
    """One logical API call, which may take several attempts."""

    method: str
    path: str
    json_body: Any = None
    stream: bool = False
    idempotency_key: str | None = None
    timeout: Timeout | None = None
    max_retries: int | None = None
    extra_headers: Mapping[str, str] | None = None


def new_idempotency_key() -> str:
    """A fresh key, also the request id when the caller gave none."""
    return f"req_{uuid.uuid4().hex}"


def build_headers(options: ClientOptions, spec: RequestSpec) -> dict[str, str]:
    headers = {
        "Accept": "text/event-stream" if spec.stream else "application/json",
        "User-Agent": f"farlabs-python/{__version__}",
        **options.default_headers,
    }
    if options.api_key:
        headers["Authorization"] = f"Bearer {options.api_key}"
    if spec.idempotency_key:
        headers[C.IDEMPOTENCY_KEY_HEADER] = spec.idempotency_key
    if spec.extra_headers:
        headers.update(spec.extra_headers)
    return headers


_READ_IS_DEADLINE = "farlabs.read_is_deadline"  # request extension: which limit a read timeout is


def httpx_timeout(timeout: Timeout, deadline: Deadline, streaming: bool) -> httpx.Timeout:
    """The per-attempt httpx timeout: each phase capped by what is left of the deadline."""
    # A stream must not fall silent for longer than `idle`; a whole answer arrives in one piece
    # when it is ready, so only the deadline bounds the wait for it.
    read = deadline.cap(timeout.idle if streaming else None)
    return httpx.Timeout(
        connect=deadline.cap(timeout.connect),
        read=read,
        write=read,
        pool=deadline.cap(timeout.connect),
    )


def _read_is_deadline(timeout: Timeout, deadline: Deadline, streaming: bool) -> bool:
    left = deadline.remaining()
    return left is not None and (not streaming or timeout.idle is None or left <= timeout.idle)


def map_transport_error(exc: Exception, phase_timeout: Timeout) -> APIConnectionError:
    """An httpx transport failure as one of ours, naming the server it could not reach."""
    where, read_is_deadline = "", False
    if isinstance(exc, httpx.RequestError):
        try:
            request = exc.request
        except RuntimeError:  # no request attached
            pass
        else:
            where = f" ({request.url.scheme}://{request.url.netloc.decode()})"
            read_is_deadline = bool(request.extensions.get(_READ_IS_DEADLINE))
    if isinstance(exc, httpx.ConnectTimeout | httpx.PoolTimeout):
        return APITimeoutError(
            f"could not connect within {phase_timeout.connect}s{where}", kind="connect"
        )
    if isinstance(exc, httpx.TimeoutException):
        if read_is_deadline:
            return deadline_error(phase_timeout)
        return APITimeoutError(
            f"no data from the server for {phase_timeout.idle}s{where}", kind="idle"
        )
    detail = str(exc) or type(exc).__name__
    return APIConnectionError(f"connection error{where}: {detail}", code="connection_error")


def deadline_error(timeout: Timeout) -> APITimeoutError:
    return APITimeoutError(f"the call did not finish within {timeout.total}s", kind="total")


def is_retryable(error: FarLabsError) -> bool:
    """Whether another attempt could succeed (the caller also checks that no token flowed)."""
    if isinstance(error, APITimeoutError):
        return error.kind != "total"
    if isinstance(error, APIConnectionError):
        return True
    if isinstance(error, APIStatusError):
        if error.type is not None:
            return error.type in C.RETRYABLE_ERROR_TYPES
        return error.status_code in C.RETRYABLE_STATUS_CODES
    return False


def backoff_delay(retries_done: int) -> float:
    """Exponential backoff with full jitter in the upper half: 0.5 s, 1 s, 2 s ... capped."""
    base = min(C.INITIAL_RETRY_DELAY_S * (2**retries_done), C.MAX_RETRY_DELAY_S)
    return float(base * (0.5 + random.random() / 2))


class RetryController:
    """Counts attempts of one call and decides whether and when to try again."""

    def __init__(self, max_retries: int, deadline: Deadline) -> None:
        self.max_retries = max_retries
        self.deadline = deadline
        self.retries_done = 0

    def delay_before_retry(self, error: FarLabsError) -> float | None:
        """Seconds to wait before the next attempt, or None to raise `error` now."""
        if self.retries_done >= self.max_retries or not is_retryable(error):
            return None
        retry_after = getattr(error, "retry_after", None)
        if retry_after is not None:
            if retry_after > C.MAX_RETRY_AFTER_S:
                return None  # the server wants a long pause: let the caller decide
            delay = float(retry_after)
        else:
            delay = backoff_delay(self.retries_done)
        left = self.deadline.remaining()
        if left is not None and delay >= left:
            return None  # waiting would overrun the deadline
        self.retries_done += 1
        log.debug(
            "retrying in %.2fs (retry %d of %d) after: %s",
            delay,
            self.retries_done,
            self.max_retries,
            error,
        )
        return delay


def finish_error(error: FarLabsError, options: ClientOptions) -> FarLabsError:
    """Add a hint where the cause is likely the client's own configuration."""
    if isinstance(error, AuthenticationError) and not options.api_key:
        error.message += f" (no API key set: pass api_key= or set {C.ENV_API_KEY})"
    return error


def decode_json(response: httpx.Response) -> Any:
    """JSON with exact decimals: a float in the wire data never becomes a binary float."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        snippet = response.content[:120].decode("utf-8", "replace")
        raise InternalServerError(
            f"the server's answer is not JSON: {snippet!r}",
            status_code=response.status_code,
            request_id=response.headers.get(C.REQUEST_ID_HEADER),
            code="malformed_response",
        ) from None


class _BaseAPIClient:
    def __init__(self, options: ClientOptions) -> None:
        self._options = options

    def _prepare(self, spec: RequestSpec) -> tuple[Timeout, RetryController]:
        timeout = spec.timeout or self._options.timeout
        max_retries = self._options.max_retries if spec.max_retries is None else spec.max_retries
        return timeout, RetryController(max_retries, Deadline(timeout.total))

    def _build_request(
        self,
        client: httpx.Client | httpx.AsyncClient,
        spec: RequestSpec,
        timeout: Timeout,
        deadline: Deadline,
    ) -> httpx.Request:
        request = client.build_request(
            spec.method,
            self._options.base_url.rstrip("/") + spec.path,
            json=spec.json_body,
            headers=build_headers(self._options, spec),
            timeout=httpx_timeout(timeout, deadline, spec.stream),
        )
        request.extensions[_READ_IS_DEADLINE] = _read_is_deadline(timeout, deadline, spec.stream)
        return request


class SyncAPIClient(_BaseAPIClient):
    """Blocking I/O over one `httpx.Client`."""

    def __init__(self, options: ClientOptions, http_client: httpx.Client) -> None:
        super().__init__(options)
        self._client = http_client

    def sleep(self, seconds: float) -> None:
        """Wait between attempts (one place, so tests can watch the delays)."""
        time.sleep(seconds)

    def send(self, spec: RequestSpec) -> tuple[httpx.Response, Timeout, RetryController]:
        """Send with retries until a 2xx arrives. For a stream the body is left unread."""
        timeout, retry = self._prepare(spec)
        return self.send_attempts(spec, timeout, retry), timeout, retry

    def send_attempts(
        self, spec: RequestSpec, timeout: Timeout, retry: RetryController
    ) -> httpx.Response:
        """The retry loop proper; streams reuse it to reconnect before their first token."""
        while True:
            if retry.deadline.expired():
                raise deadline_error(timeout)
            try:
                request = self._build_request(self._client, spec, timeout, retry.deadline)
                response = self._client.send(request, stream=True)
                error = None
                if not response.is_success or not spec.stream:
                    content = response.read()
                    response.close()
                    if not response.is_success:
                        error = error_from_response(response.status_code, content, response.headers)
                if error is None:
                    return response
            except httpx.TransportError as exc:
                error = map_transport_error(exc, timeout)
                error.__cause__ = exc
            delay = retry.delay_before_retry(error)
            if delay is None:
                raise finish_error(error, self._options)
            self.sleep(delay)

    def request_json(self, spec: RequestSpec) -> Any:
        response, _, _ = self.send(spec)
        return decode_json(response)


class AsyncAPIClient(_BaseAPIClient):
    """Async I/O (asyncio or trio, through anyio) over one `httpx.AsyncClient`."""

    def __init__(self, options: ClientOptions, http_client: httpx.AsyncClient) -> None:
        super().__init__(options)
        self._client = http_client

    async def sleep(self, seconds: float) -> None:
        """Wait between attempts (one place, so tests can watch the delays)."""
        await anyio.sleep(seconds)

    async def send(self, spec: RequestSpec) -> tuple[httpx.Response, Timeout, RetryController]:
        """Send with retries until a 2xx arrives. For a stream the body is left unread."""
        timeout, retry = self._prepare(spec)
        return await self.send_attempts(spec, timeout, retry), timeout, retry

    async def send_attempts(
        self, spec: RequestSpec, timeout: Timeout, retry: RetryController
    ) -> httpx.Response:
        """The retry loop proper; streams reuse it to reconnect before their first token."""
        while True:
            left = retry.deadline.remaining()
            if left is not None and left <= 0:
                raise deadline_error(timeout)
            error: FarLabsError | None = None
            response: httpx.Response | None = None
            try:
                # The deadline is exact here: the attempt is cancelled when it runs out.
                with anyio.fail_after(left):
                    request = self._build_request(self._client, spec, timeout, retry.deadline)
                    response = await self._client.send(request, stream=True)
                    if not response.is_success or not spec.stream:
                        content = await response.aread()
                        await response.aclose()
                        if not response.is_success:
                            error = error_from_response(
                                response.status_code, content, response.headers
                            )
            except httpx.TransportError as exc:
                error = map_transport_error(exc, timeout)
                error.__cause__ = exc
            except TimeoutError:
                if response is not None:
                    await response.aclose()
                raise deadline_error(timeout) from None
            except BaseException:  # cancelled from outside: still release the connection
                if response is not None:
                    with anyio.CancelScope(shield=True):
                        await response.aclose()
                raise
            if error is None and response is not None:
                return response
            assert error is not None
            delay = retry.delay_before_retry(error)
            if delay is None:
                raise finish_error(error, self._options)
            await self.sleep(delay)

    async def request_json(self, spec: RequestSpec) -> Any:
        response, _, _ = await self.send(spec)
        return decode_json(response)
