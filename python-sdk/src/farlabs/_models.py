"""Typed shapes of what the server returns. Permissive: unknown fields are kept, not refused,
so a newer server does not break an older SDK."""

from __future__ import annotations

from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatResponse",
    "DoneEvent",
    "Message",
    "Model",
    "ProviderEarnings",
    "ProviderNode",
    "ProviderNodes",
    "ProviderPayment",
    "ProviderPayments",
    "ProviderStats",
    "RouteHop",
    "StreamEvent",
    "TokenEvent",
    "Usage",
]

FinishReason = Literal["stop", "length", "cancelled"]


class FarModel(BaseModel):
    """Base of every response model: extra fields allowed and kept."""

    model_config = ConfigDict(extra="allow", populate_by_name=True, protected_namespaces=())


class Message(FarModel):
    """One chat message (`{"role": "user", "content": "..."}`)."""

    role: Literal["system", "user", "assistant", "tool"] | str
    content: str


class Usage(FarModel):
    """Token counts. After an early close only `completion_tokens` may be known."""

    prompt_tokens: int | None = None
    completion_tokens: int = 0
    total_tokens: int | None = None


class RouteHop(FarModel):
    """One server of the route a generation took, and the block span it computed."""

    node_id: str | None = None
    peer_id: str | None = None
    start_block: int | None = None
    end_block: int | None = None


class ChatResponse(FarModel):
    """A finished generation: the `done` payload of `/mesh/inference/generate`."""

    text: str = ""
    request_id: str | None = None
    session_id: str | None = None
    model_id: str | None = None
    finish_reason: FinishReason | str | None = None
    usage: Usage = Field(default_factory=Usage)
    cost_far: Decimal = Decimal(0)
    route: list[RouteHop] = Field(default_factory=list)
    time_to_first_token_ms: float | None = None


class TokenEvent(FarModel):
    """One streamed token. `cost_far` is cumulative for the request so far."""

    type: Literal["token"] = "token"
    token: str
    request_id: str | None = None
    tokens_generated: int | None = None
    cost_far: Decimal | None = None


class DoneEvent(FarModel):
    """The last event of a successful stream, carrying the full response."""

    type: Literal["done"] = "done"
    response: ChatResponse


StreamEvent = TokenEvent | DoneEvent


class Model(FarModel):
    """A model the mesh serves (`GET /v1/models`, OpenAI's shape)."""

    id: str
    object: str = "model"
    created: int | None = None
    owned_by: str | None = None


class ProviderStats(FarModel):
    """A provider's totals (`GET /provider/{wallet}/stats`)."""

    wallet_address: str | None = None
    nodes_total: int | None = None
    nodes_online: int | None = None
    tokens_served: int | None = None
    earned_far: Decimal | None = None
    paid_far: Decimal | None = None
    unpaid_far: Decimal | None = None


class ProviderEarnings(FarModel):
    """What a provider earned (`GET /provider/{wallet}/earnings`); breakdowns kept as sent."""

    wallet_address: str | None = None
    total_far: Decimal | None = None
    paid_far: Decimal | None = None
    unpaid_far: Decimal | None = None


class ProviderPayment(FarModel):
    """One payout to a provider (a line of a batch)."""

    batch_id: str | None = None
    amount_far: Decimal | None = None
    amount_wei: int | None = None
    tx_hash: str | None = None
    status: str | None = None
    created_at: str | None = None
    paid_at: str | None = None


class ProviderPayments(FarModel):
    """A provider's payouts (`GET /provider/{wallet}/payments`)."""

    wallet_address: str | None = None
    payments: list[ProviderPayment] = Field(default_factory=list)


class ProviderNode(FarModel):
    """One of a provider's nodes, as discovery knows it."""

    node_id: str | None = None
    node_name: str | None = None
    wallet_address: str | None = None
    peer_id: str | None = None
    model_id: str | None = None
    start_block: int | None = None
    end_block: int | None = None
    mode: str | None = None
    region: str | None = None
    status: str | None = None
    last_seen: str | None = None
    registered_at: str | None = None
    throughput_tps: float | None = None
    in_flight: int | None = None
    tokens_served: int | None = None
    earned_far: Decimal | None = None


class ProviderNodes(FarModel):
    """A provider's nodes (`GET /provider/{wallet}/nodes`)."""

    wallet_address: str | None = None
    nodes: list[ProviderNode] = Field(default_factory=list)
