"""One error tree, mapped from the server's error envelope `type` (the HTTP status is a fallback).

```
FarLabsError
├── APIConnectionError            the server could not be reached or the connection broke
│   └── APITimeoutError           connect / idle (silence between chunks) / total deadline
├── APIStatusError                the server answered with an error (HTTP status or `error` event)
│   ├── BadRequestError           invalid_request_error (400, 405, 413, 415, 422)
│   │   └── ContextLengthExceededError
│   ├── AuthenticationError       401
│   ├── PermissionDeniedError     403
│   ├── NotFoundError             404
│   ├── ConflictError             409
│   ├── RateLimitError            429 (retry_after)
│   ├── InternalServerError       500
│   ├── OverloadedError           503, no capacity (retry_after)
│   └── GatewayTimeoutError       504, the swarm did not answer in time
└── StreamInterruptedError        tokens had flowed and the stream could not be resumed
```
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

__all__ = [
    "APIConnectionError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ContextLengthExceededError",
    "FarLabsError",
    "GatewayTimeoutError",
    "InternalServerError",
    "NotFoundError",
    "OverloadedError",
    "PermissionDeniedError",
    "RateLimitError",
    "StreamInterruptedError",
]


class FarLabsError(Exception):
    """Base of every error the SDK raises.

    Attributes:
        message: human-readable text (from the server when it sent one).
        request_id: the request id the server assigned or echoed, when known.
        status_code: the HTTP status; for an error that arrived inside a stream, the status the
            protocol gives that error type; None for connection errors and stream interruptions.
        code: the envelope's machine-readable `code` (e.g. ``no_capacity``), or a client-side code.
        type: the envelope's `type` (e.g. ``overloaded_error``), or None.
        param: the request field to blame, when the server named one.
        partial_text: text already streamed when the error struck mid-stream, else None.
    """

    def __init__(
        self,
        message: str,
        *,
        request_id: str | None = None,
        status_code: int | None = None,
        code: str | None = None,
        type: str | None = None,
        param: str | None = None,
        partial_text: str | None = None,
        body: Any = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id
        self.status_code = status_code
        self.code = code
        self.type = type
        self.param = param
        self.partial_text = partial_text
        self.body = body

    def __str__(self) -> str:
        details = [
            f"{name}={value}"
            for name, value in (
                ("status", self.status_code),
                ("type", self.type),
                ("code", self.code),
                ("param", self.param),
                ("request_id", self.request_id),
            )
            if value is not None
        ]
        return f"{self.message} ({', '.join(details)})" if details else self.message


class APIConnectionError(FarLabsError):
    """The request never got an answer: DNS, refused connection, reset, broken stream."""


class APITimeoutError(APIConnectionError):
    """A client-side timeout. `kind` is ``connect``, ``idle`` (silence between chunks; keep-alive
    comments do not count as activity) or ``total`` (the call's overall deadline)."""

    def __init__(self, message: str, *, kind: str, **kwargs: Any) -> None:
        kwargs.setdefault("code", f"{kind}_timeout")
        super().__init__(message, **kwargs)
        self.kind = kind


class APIStatusError(FarLabsError):
    """The server answered with an error envelope (as an HTTP error or an in-stream event)."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kwargs: Any) -> None:
        super().__init__(message, **kwargs)
        #: Seconds the server asked us to wait (the `Retry-After` header), when it said.
        self.retry_after = retry_after


class BadRequestError(APIStatusError):
    """The request is wrong (`invalid_request_error`); retrying it will not help."""


class ContextLengthExceededError(BadRequestError):
    """The prompt plus `max_tokens` do not fit the model's context window."""


class AuthenticationError(APIStatusError):
    """No, unknown, expired or revoked credentials (401)."""


class PermissionDeniedError(APIStatusError):
    """Valid credentials that are not allowed to do this (403)."""


class NotFoundError(APIStatusError):
    """Unknown route, model, node, wallet or batch (404)."""


class ConflictError(APIStatusError):
    """The same request id / idempotency key is in flight or was used with another body (409)."""


class RateLimitError(APIStatusError):
    """Too many requests for this key (429); see `retry_after`."""


class InternalServerError(APIStatusError):
    """A bug on the server's side (500 and other unexpected 5xx)."""


class OverloadedError(APIStatusError):
    """No node can serve the model now (503, code ``no_capacity``); see `retry_after`."""


class GatewayTimeoutError(APIStatusError):
    """The swarm did not answer within the server's deadline (504)."""


class StreamInterruptedError(FarLabsError):
    """Tokens had flowed and the stream could not be resumed; `partial_text` holds what came."""


_BY_TYPE: dict[str, tuple[type[FarLabsError], int | None]] = {
    "invalid_request_error": (BadRequestError, 400),
    "context_length_exceeded": (ContextLengthExceededError, 400),
    "authentication_error": (AuthenticationError, 401),
    "permission_error": (PermissionDeniedError, 403),
    "not_found_error": (NotFoundError, 404),
    "conflict_error": (ConflictError, 409),
    "rate_limit_error": (RateLimitError, 429),
    "api_error": (InternalServerError, 500),
    "overloaded_error": (OverloadedError, 503),
    "timeout_error": (GatewayTimeoutError, 504),
    "stream_interrupted": (StreamInterruptedError, None),
}

_BY_STATUS: dict[int, type[APIStatusError]] = {
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    429: RateLimitError,
    503: OverloadedError,
    504: GatewayTimeoutError,
}


def _class_for_status(status: int) -> type[APIStatusError]:
    if status in _BY_STATUS:
        return _BY_STATUS[status]
    return InternalServerError if status >= 500 else BadRequestError


def parse_retry_after(value: str | None) -> float | None:
    """Seconds from a `Retry-After` header (delta-seconds or an HTTP date); None if absent/bad."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


def error_from_envelope(
    envelope: Mapping[str, Any],
    *,
    status_code: int | None = None,
    request_id: str | None = None,
    retry_after: float | None = None,
    partial_text: str | None = None,
) -> FarLabsError:
    """Build the exception for an error envelope's inner object (`{"type", "code", ...}`).

    `status_code` is the HTTP status when the envelope came as a response; for in-stream
    errors it is None and the status the protocol assigns to the type is used instead.
    """
    error_type = envelope.get("type")
    error_type = error_type if isinstance(error_type, str) else None
    cls: type[FarLabsError]
    if error_type in _BY_TYPE:
        cls, type_status = _BY_TYPE[error_type]
    elif status_code is not None:
        cls, type_status = _class_for_status(status_code), status_code
    else:
        cls, type_status = InternalServerError, None
    message = envelope.get("message")
    server_partial = envelope.get("partial_text")
    kwargs: dict[str, Any] = {
        "request_id": _str_or_none(envelope.get("request_id")) or request_id,
        "status_code": status_code if status_code is not None else type_status,
        "code": _str_or_none(envelope.get("code")),
        "type": error_type,
        "param": _str_or_none(envelope.get("param")),
        "partial_text": server_partial if isinstance(server_partial, str) else partial_text,
        "body": dict(envelope),
    }
    if issubclass(cls, APIStatusError):
        kwargs["retry_after"] = retry_after
    text = message if isinstance(message, str) and message else f"{error_type or 'error'}"
    return cls(text, **kwargs)


def error_from_response(
    status_code: int, content: bytes, headers: Mapping[str, str]
) -> FarLabsError:
    """Build the exception for an HTTP error response, envelope or not."""
    request_id = headers.get("x-request-id")
    retry_after = parse_retry_after(headers.get("retry-after"))
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = None
    inner = body.get("error") if isinstance(body, dict) else None
    if isinstance(inner, dict):
        return error_from_envelope(
            inner, status_code=status_code, request_id=request_id, retry_after=retry_after
        )
    # Not our envelope (a proxy's HTML page, say): fall back on the status.
    snippet = content[:200].decode("utf-8", "replace").strip()
    message = f"HTTP {status_code}" + (f": {snippet}" if snippet else "")
    return _class_for_status(status_code)(
        message,
        request_id=request_id,
        status_code=status_code,
        retry_after=retry_after,
        body=body,
    )


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) else None
