"""Request and response bodies of the discovery API (docs/protocol.md, "Discovery")."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

ADDRESS_PATTERN = r"^0x[0-9a-fA-F]{40}$"
SIGNATURE_PATTERN = r"^0x[0-9a-fA-F]{130}$"
ONE_LINE_PATTERN = r"^[^\x00-\x1f\x7f]+$"  # fields signed one per line (signatures.registration_message)


class Hardware(BaseModel):
    """What a node reports about its machine. Unknown fields are kept as reported."""

    model_config = ConfigDict(extra="allow")

    gpu_name: str | None = Field(None, max_length=128)
    vram_used_gb: float | None = Field(None, ge=0)
    vram_total_gb: float | None = Field(None, ge=0)
    gpu_temp_c: float | None = Field(None, ge=-50, le=150)
    cpu_count: int | None = Field(None, ge=0)
    cpu_percent: float | None = Field(None, ge=0, le=100 * 1024)
    ram_used_gb: float | None = Field(None, ge=0)
    ram_total_gb: float | None = Field(None, ge=0)


class _Blocks(BaseModel):
    start_block: int = Field(ge=0, le=10_000)
    end_block: int = Field(ge=1, le=10_000)


class RegisterRequest(_Blocks):
    model_config = ConfigDict(extra="forbid")

    wallet_address: str = Field(pattern=ADDRESS_PATTERN, description="Where the node's earnings are paid.")
    node_address: str = Field(pattern=ADDRESS_PATTERN, description="Address of the node's own key.")
    authorization: str | None = Field(
        None, pattern=SIGNATURE_PATTERN, description="The wallet's signature authorizing the node key."
    )
    signature: str = Field(pattern=SIGNATURE_PATTERN, description="The node key's signature of the registration.")
    timestamp: int = Field(ge=0, description="Unix seconds; must be within 300 s of the server's clock.")
    node_name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    peer_id: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[1-9A-HJ-NP-Za-km-z]+$")
    model_id: str = Field(min_length=1, max_length=200, pattern=ONE_LINE_PATTERN)
    total_blocks: int = Field(ge=1, le=10_000)
    mode: Literal["swarm", "local"] = "swarm"
    gateway_url: str | None = Field(None, max_length=500, pattern=r"^https?://[^\s]+$")
    region: str | None = Field(None, max_length=64, pattern=ONE_LINE_PATTERN)
    hardware: Hardware = Field(default_factory=Hardware)

    @model_validator(mode="after")
    def _blocks_in_range(self) -> RegisterRequest:
        if not self.start_block < self.end_block <= self.total_blocks:
            raise ValueError("need start_block < end_block <= total_blocks")
        return self


class RegisterResponse(BaseModel):
    node_id: uuid.UUID
    node_token: str = Field(description="Bearer token for heartbeats and unregistering (fn_…). Shown once.")
    gateway_token: str = Field(description="What the coordinator presents to this node's gateway (gw_…).")
    heartbeat_interval_s: int
    status: Literal["online", "offline"]
    dht_bootstrap: list[str] = Field(default_factory=list, description="The swarm's DHT bootstrap peers (as GET /nodes/bootstrap).")


class HeartbeatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    tokens_served: int = Field(0, ge=0, le=2**63 - 1, description="The node's own cumulative count since it started.")
    in_flight: int = Field(0, ge=0, le=1_000_000)
    throughput_tps: float | None = Field(None, ge=0)
    peer_id: str | None = Field(None, min_length=1, max_length=128, pattern=r"^[1-9A-HJ-NP-Za-km-z]+$")
    start_block: int | None = Field(None, ge=0, le=10_000)
    end_block: int | None = Field(None, ge=1, le=10_000)
    hardware: Hardware = Field(default_factory=Hardware)

    @field_validator("end_block")
    @classmethod
    def _after_start(cls, end: int | None, info: object) -> int | None:
        start = getattr(info, "data", {}).get("start_block")
        if end is not None and start is not None and end <= start:
            raise ValueError("end_block must be greater than start_block")
        return end


class HeartbeatResponse(BaseModel):
    node_id: uuid.UUID
    status: Literal["online", "offline"]
    tokens_credited: int = Field(description="Tokens the coordinator metered for this node.")
    earned_far: Decimal
    unpaid_far: Decimal
    heartbeat_interval_s: int


class UnregisterResponse(BaseModel):
    node_id: uuid.UUID
    status: Literal["online", "offline"]


class NodeInfo(BaseModel):
    node_id: uuid.UUID
    wallet_address: str
    node_name: str
    peer_id: str | None
    model_id: str
    start_block: int
    end_block: int
    total_blocks: int
    mode: Literal["swarm", "local"]
    gateway_url: str | None
    region: str | None
    status: Literal["online", "offline"]
    last_seen: datetime
    registered_at: datetime
    online_since: datetime
    hardware: Hardware
    throughput_tps: float | None
    in_flight: int


class NodeList(BaseModel):
    nodes: list[NodeInfo]


class ModelNodes(BaseModel):
    model_id: str
    total_blocks: int | None = Field(description="From the nodes' reports; null when no node serves the model.")
    covered: bool = Field(description="Whether online swarm nodes together serve every block.")
    missing_blocks: list[int]
    nodes: list[NodeInfo]
