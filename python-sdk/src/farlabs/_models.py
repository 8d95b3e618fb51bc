"""Typed shapes of what the server returns. Permissive: unknown fields are kept, not refused,
so a newer server does not break an older SDK."""

from __future__ import annotations

import datetime as dt
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ChatResponse",
    "DailyEarning",
    "DoneEvent",
    "Message",
    "Model",
    "NodeEarning",
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
    sessions: int | None = None
    tokens_contributed: int | None = None
    block_tokens: int | None = None
    total_earned_far: Decimal | None = None
    paid_far: Decimal | None = None
    unpaid_far: Decimal | None = None
    last_payment_at: datetime | None = None


class DailyEarning(FarModel):
    """What a provider earned on one day."""

    date: dt.date | None = None
    far: Decimal | None = None
    tokens: int | None = None


class NodeEarning(FarModel):
    """What one of a provider's nodes earned."""

    node_id: str | None = None
    node_name: str | None = None
    tokens: int | None = None
    earned_far: Decimal | None = None
    paid_far: Decimal | None = None
    unpaid_far: Decimal | None = None


class ProviderEarnings(FarModel):
    """What a provider earned (`GET /provider/{wallet}/earnings`): per day and per node."""

    wallet_address: str | None = None
    days: int | None = None
    daily: list[DailyEarning] = Field(default_factory=list)
    by_node: list[NodeEarning] = Field(default_factory=list)
    paid_far: Decimal | None = None
    unpaid_far: Decimal | None = None


class ProviderPayment(FarModel):
    """One payout to a provider (its line in a payment batch)."""

    batch_id: str | None = None
    date: datetime | None = None
    amount_far: Decimal | None = None
    status: str | None = None
    network: str | None = None
    chain_id: int | None = None
    tx_hash: str | None = None
    tx_url: str | None = None  # the transaction on a public block explorer (none on a local chain)
    block_number: int | None = None


class ProviderPayments(FarModel):
    """A provider's payouts (`GET /provider/{wallet}/payments`)."""

    wallet_address: str | None = None
    payments: list[ProviderPayment] = Field(default_factory=list)


class ProviderNode(FarModel):
    """One of a provider's nodes, as discovery knows it."""

    node_id: str | None = None
    node_name: str | None = None
    status: str | None = None
    model_id: str | None = None
    start_block: int | None = None
    end_block: int | None = None
    mode: str | None = None
    peer_id: str | None = None
    region: str | None = None
    gateway_url: str | None = None
    last_seen: datetime | None = None
    online_since: datetime | None = None
    uptime_s: int | None = None
    tokens_served: int | None = None
    hardware: dict[str, Any] | None = None


class ProviderNodes(FarModel):
    """A provider's nodes (`GET /provider/{wallet}/nodes`)."""

    wallet_address: str | None = None
    nodes: list[ProviderNode] = Field(default_factory=list)
