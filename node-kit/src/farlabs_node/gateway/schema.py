"""The gateway's request body (docs/protocol.md, "Gateway") and the error envelope."""

from __future__ import annotations

import json
import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from starlette.responses import JSONResponse

MAX_STOP_SEQUENCES = 4


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class GenerateRequest(BaseModel):
    """`POST /generate` body. Exactly one of `prompt` / `messages`."""

    model_config = ConfigDict(extra="ignore")

    request_id: str | None = None
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    max_tokens: int = Field(256, ge=1, le=4096)
    temperature: float = Field(0.7, ge=0.0, le=2.0)
    top_p: float = Field(1.0, gt=0.0, le=1.0)
    stop: list[str] = Field(default_factory=list)
    seed: int | None = None
    prefix_token_ids: list[int] = Field(default_factory=list)

    @field_validator("stop", mode="before")
    @classmethod
    def _stop_list(cls, value: Any) -> Any:
        if value is None:
            return []
        if isinstance(value, str):
            return [value]
        return value

    @field_validator("stop")
    @classmethod
    def _stop_limits(cls, value: list[str]) -> list[str]:
        if len(value) > MAX_STOP_SEQUENCES:
            raise ValueError(f"at most {MAX_STOP_SEQUENCES} stop sequences")
        if any(s == "" for s in value):
            raise ValueError("stop sequences must not be empty")
        return value

    @field_validator("prefix_token_ids")
    @classmethod
    def _non_negative(cls, value: list[int]) -> list[int]:
        if any(t < 0 for t in value):
            raise ValueError("token ids must be >= 0")
        return value

    @model_validator(mode="after")
    def _one_input(self) -> GenerateRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of prompt or messages")
        if self.messages is not None and not self.messages:
            raise ValueError("messages must not be empty")
        if len(self.prefix_token_ids) > self.max_tokens:
            raise ValueError("prefix_token_ids is longer than max_tokens")
        return self


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex[:24]}"


def error_body(err_type: str, code: str, message: str, request_id: str, param: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"type": err_type, "code": code, "message": message, "request_id": request_id}
    if param is not None:
        error["param"] = param
    return {"error": error}


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
        error_body(err_type, code, message, request_id, param),
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


def sse(data: dict[str, Any], event: str | None = None) -> str:
    """One server-sent event."""
    head = f"event: {event}\n" if event else ""
    return f"{head}data: {json.dumps(data, ensure_ascii=False)}\n\n"
