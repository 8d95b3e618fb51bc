"""The error envelope every Far Mesh HTTP error and `error` event carries (docs/protocol.md, "Errors")."""

from __future__ import annotations

from typing import Any

# The `type`s a caller may not retry: the request itself is wrong, so another node would refuse it too.
CLIENT_FAULT_TYPES = frozenset({"invalid_request_error", "context_length_exceeded"})


def error_envelope(
    type: str, code: str, message: str, request_id: str | None, *, param: str | None = None,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`{"error": {"type", "code", "message", "request_id", "param"?, ...extra}}`, as JSON-ready data."""
    error: dict[str, Any] = {"type": type, "code": code, "message": message, "request_id": request_id}
    if param is not None:
        error["param"] = param
    if extra:
        error.update(extra)
    return {"error": error}
