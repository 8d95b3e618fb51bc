"""One error tree, one envelope: `{"error": {"type", "code", "message", "request_id", "param"?}}`.

Services raise these; the HTTP layer turns any of them (and every other failure) into the envelope, and the
streaming endpoints put the same payload in an `error` event. docs/protocol.md has the table of types.
"""

from __future__ import annotations

from typing import Any, ClassVar

from farlabs_protocol import error_envelope


class ApiError(Exception):
    """An error a client should see. Subclasses fix the type and the default status."""

    type: ClassVar[str] = "api_error"
    status: ClassVar[int] = 500
    default_code: ClassVar[str] = "internal_error"

    def __init__(
        self,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        status: int | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.code = code or self.default_code
        self.param = param
        self.status_code = status or self.status
        self.headers = headers or {}
        self.extra = extra or {}

    def payload(self, request_id: str | None) -> dict[str, Any]:
        """The envelope, as JSON-ready data."""
        return error_envelope(self.type, self.code, self.message, request_id, param=self.param, extra=self.extra)


class InvalidRequestError(ApiError):
    type = "invalid_request_error"
    status = 400
    default_code = "invalid_request"


class ValidationFailed(InvalidRequestError):
    status = 422
    default_code = "validation_error"


class BodyTooLarge(InvalidRequestError):
    status = 413
    default_code = "body_too_large"


class ContextLengthExceeded(ApiError):
    type = "context_length_exceeded"
    status = 400
    default_code = "context_length_exceeded"


class AuthenticationError(ApiError):
    type = "authentication_error"
    status = 401
    default_code = "invalid_credentials"


class PermissionDenied(ApiError):
    type = "permission_error"
    status = 403
    default_code = "forbidden"


class NotFound(ApiError):
    type = "not_found_error"
    status = 404
    default_code = "not_found"


class Conflict(ApiError):
    type = "conflict_error"
    status = 409
    default_code = "conflict"


class RateLimited(ApiError):
    type = "rate_limit_error"
    status = 429
    default_code = "rate_limited"

    def __init__(self, message: str, *, retry_after_s: int, **kwargs: Any) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after_s)}, **kwargs)
        self.retry_after_s = retry_after_s


class Overloaded(ApiError):
    type = "overloaded_error"
    status = 503
    default_code = "no_capacity"


def database_unavailable() -> Overloaded:
    """The answer to db.DatabaseUnavailable (PostgreSQL down or restarting): a 503 worth retrying shortly."""
    return Overloaded("The database is not reachable; try again shortly.", code="database_unavailable",
                      headers={"Retry-After": "2"})


class UpstreamTimeout(ApiError):
    type = "timeout_error"
    status = 504
    default_code = "upstream_timeout"


class StreamInterrupted(ApiError):
    """Only inside a stream: tokens had flowed and the generation could not be resumed."""

    type = "stream_interrupted"
    status = 502
    default_code = "stream_interrupted"


def unknown_node_token() -> AuthenticationError:
    # Also what a node sees after the server lost its registration: it re-registers.
    return AuthenticationError("Unknown node token; register again.", code="unknown_node_token")
