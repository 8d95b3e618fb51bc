"""The gateway's HTTP error responses. The request body, the envelope and SSE framing are farlabs_protocol's
(docs/protocol.md, "Gateway")."""

from __future__ import annotations

from pydantic import ValidationError
from starlette.responses import JSONResponse

from farlabs_protocol import error_envelope


def error_response(
    status: int,
    err_type: str,
    code: str,
    message: str,
    request_id: str,
    param: str | None = None,
    headers: dict[str, str] | None = None,
) -> JSONResponse:
    return JSONResponse(
        error_envelope(err_type, code, message, request_id, param=param),
        status_code=status,
        headers={"X-Request-ID": request_id, **(headers or {})},
    )


def validation_error_response(exc: ValidationError, request_id: str) -> JSONResponse:
    first = exc.errors()[0]
    param = ".".join(str(p) for p in first.get("loc", ())) or None
    message = first.get("msg", "invalid request")
    message = message.removeprefix("Value error, ")
    return error_response(
        422,
        "invalid_request_error",
        "validation_error",
        f"{param}: {message}" if param else message,
        request_id,
        param,
    )
