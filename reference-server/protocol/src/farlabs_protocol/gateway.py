"""The body of a node gateway's `POST /generate` (docs/protocol.md, "Gateway"): the coordinator builds it, the
gateway validates it."""

from __future__ import annotations

import uuid
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .limits import MAX_STOP_SEQUENCES, MAX_TOKENS


class ChatMessage(BaseModel):
    role: Literal["system", "user", "assistant", "tool"]
    content: str


class GatewayRequest(BaseModel):
    """Exactly one of `prompt` / `messages`. `prefix_token_ids` are tokens another node already generated for
    this request: the gateway resumes after them (failover mid-stream) instead of starting again."""

    model_config = ConfigDict(extra="ignore")

    request_id: str | None = None
    prompt: str | None = None
    messages: list[ChatMessage] | None = None
    max_tokens: int = Field(256, ge=1, le=MAX_TOKENS)
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
    def _one_input(self) -> GatewayRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of prompt or messages")
        if self.messages is not None and not self.messages:
            raise ValueError("messages must not be empty")
        if len(self.prefix_token_ids) > self.max_tokens:
            raise ValueError("prefix_token_ids is longer than max_tokens")
        return self


def new_request_id() -> str:
    return f"req_{uuid.uuid4().hex[:24]}"
