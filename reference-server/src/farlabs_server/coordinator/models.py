"""Bodies of the inference endpoints: the native `/mesh/inference/generate` and OpenAI's chat completions."""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from farlabs_protocol import MAX_STOP_SEQUENCES, MAX_TOKENS

from ..discovery.models import ADDRESS_PATTERN


class ChatMessage(BaseModel):
    model_config = ConfigDict(extra="ignore")

    role: Literal["system", "user", "assistant"]
    content: str = Field(max_length=200_000)

    @field_validator("content", mode="before")
    @classmethod
    def _text_parts(cls, value: Any) -> Any:
        # OpenAI clients may send content as a list of {"type": "text", "text": …} parts.
        if isinstance(value, list):
            if not all(isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str) for p in value):
                raise ValueError("only text content parts are supported")
            return "".join(p["text"] for p in value)
        return value


class Sampling(BaseModel):
    """What every generation request shares."""

    max_tokens: int = Field(256, ge=1, le=MAX_TOKENS)
    temperature: float = Field(0.7, ge=0, le=2, description="0 = greedy decoding.")
    top_p: float = Field(1.0, gt=0, le=1)
    stop: list[str] = Field(default_factory=list, max_length=MAX_STOP_SEQUENCES,
                            description=f"A string or up to {MAX_STOP_SEQUENCES} strings.")
    seed: int | None = Field(None, ge=0, le=2**63 - 1)

    @field_validator("stop", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        if value is None:
            return []
        return [value] if isinstance(value, str) else value

    @field_validator("stop")
    @classmethod
    def _non_empty(cls, value: list[str]) -> list[str]:
        if any(not s or len(s) > 200 for s in value):
            raise ValueError("stop sequences must be 1 to 200 characters")
        return value


class GenerateRequest(Sampling):
    """The plan's body for `POST /mesh/inference/generate`."""

    model_config = ConfigDict(extra="forbid")

    prompt: str | None = Field(None, min_length=1, max_length=200_000)
    messages: list[ChatMessage] | None = Field(None, min_length=1, max_length=500)
    model_id: str | None = Field(None, min_length=1, max_length=200, description="Default: the server's DEFAULT_MODEL_ID.")
    request_id: str | None = Field(None, min_length=1, max_length=200, pattern=r"^[A-Za-z0-9._:-]+$")
    user_wallet: str | None = Field(None, pattern=ADDRESS_PATTERN)
    stream: bool = True
    region: str | None = Field(None, max_length=64, description="Prefer gateways in this region.")

    @model_validator(mode="after")
    def _prompt_or_messages(self) -> GenerateRequest:
        if (self.prompt is None) == (self.messages is None):
            raise ValueError("give exactly one of prompt or messages")
        return self


class Usage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class RouteHop(BaseModel):
    node_id: uuid.UUID | None = Field(description="The registered node, when the peer is one.")
    peer_id: str | None
    start_block: int
    end_block: int


class StreamToken(BaseModel):
    """One `data:` event per generated token of a native stream."""

    token: str = Field(description="The text of this token.")
    request_id: str
    tokens_generated: int = Field(description="Tokens generated so far, this one included.")
    cost_far: str = Field(description="Cost so far in FAR, a decimal string (cumulative).")


class GenerateResult(BaseModel):
    """The final event of a stream, and the whole answer when `stream` is false."""

    request_id: str
    session_id: uuid.UUID
    model_id: str
    text: str
    finish_reason: Literal["stop", "length", "cancelled"]
    usage: Usage
    cost_far: Decimal
    route: list[RouteHop]
    time_to_first_token_ms: float | None


# ---------------------------------------------------------------- OpenAI-compatible


class StreamOptions(BaseModel):
    model_config = ConfigDict(extra="ignore")
    include_usage: bool = False


class ChatCompletionRequest(Sampling):
    """OpenAI's body; fields this server does not implement are accepted and ignored, as vLLM does."""

    model_config = ConfigDict(extra="ignore")

    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=500)
    max_tokens: int = Field(256, ge=1, le=MAX_TOKENS)
    max_completion_tokens: int | None = Field(None, ge=1, le=MAX_TOKENS)
    temperature: float = Field(1.0, ge=0, le=2)
    n: int = Field(1, ge=1, le=1, description="Only one choice per request.")
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = Field(None, max_length=200)


class ChunkDelta(BaseModel):
    role: Literal["assistant"] | None = None
    content: str | None = None


class ChunkChoice(BaseModel):
    index: int
    delta: ChunkDelta
    logprobs: None = None
    finish_reason: Literal["stop", "length"] | None
    stop_reason: None = None


class ChatCompletionChunk(BaseModel):
    """One `data:` event of an OpenAI-compatible stream (vLLM's shape)."""

    id: str
    object: Literal["chat.completion.chunk"]
    created: int
    model: str
    choices: list[ChunkChoice] = Field(description="Empty in the usage chunk.")
    usage: Usage | None = Field(None, description="Only with stream_options.include_usage: null, then set in the last chunk.")


class ModelCard(BaseModel):
    id: str
    object: Literal["model"] = "model"
    created: int
    owned_by: str = "farlabs"


class ModelList(BaseModel):
    object: Literal["list"] = "list"
    data: list[ModelCard]
