"""Response bodies of the provider API (`GET /provider/{wallet}/…`)."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, Field

from ..discovery.models import Hardware


class ProviderStats(BaseModel):
    wallet_address: str
    nodes_total: int
    nodes_online: int
    sessions: int
    tokens_contributed: int
    block_tokens: int
    total_earned_far: Decimal
    paid_far: Decimal
    unpaid_far: Decimal
    last_payment_at: dt.datetime | None


class DailyEarning(BaseModel):
    date: dt.date
    far: Decimal
    tokens: int


class NodeEarning(BaseModel):
    node_id: uuid.UUID
    node_name: str
    tokens: int
    earned_far: Decimal
    paid_far: Decimal
    unpaid_far: Decimal


class ProviderEarnings(BaseModel):
    wallet_address: str
    days: int
    daily: list[DailyEarning] = Field(description="One entry per day of the window, oldest first (zero days included).")
    by_node: list[NodeEarning]
    paid_far: Decimal
    unpaid_far: Decimal


class Payment(BaseModel):
    batch_id: uuid.UUID
    date: dt.datetime
    amount_far: Decimal
    status: Literal["planned", "signed", "broadcast", "confirmed", "failed", "abandoned"]
    network: str
    chain_id: int | None
    tx_hash: str | None
    tx_url: str | None = Field(None, description="The transaction on a public block explorer (none for a local chain).")
    block_number: int | None


class ProviderPayments(BaseModel):
    wallet_address: str
    payments: list[Payment]


class ProviderNode(BaseModel):
    node_id: uuid.UUID
    node_name: str
    status: Literal["online", "offline"]
    model_id: str
    start_block: int
    end_block: int
    mode: Literal["swarm", "local"]
    peer_id: str | None
    region: str | None
    gateway_url: str | None
    last_seen: dt.datetime
    online_since: dt.datetime
    uptime_s: int = Field(description="Seconds online without a gap of three missed heartbeats; 0 when offline.")
    tokens_served: int
    hardware: Hardware


class ProviderNodes(BaseModel):
    wallet_address: str
    nodes: list[ProviderNode]
