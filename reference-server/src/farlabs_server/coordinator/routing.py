"""Choosing a gateway for a model: health, load, measured latency, region, and the central fallback.

The swarm is used when at least `min_swarm_nodes` distinct online nodes serve the model and together cover
every block (the plan's Risk 1); otherwise gateways registered in local (centralized) mode go first.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import asyncpg

from ..discovery.service import gateway_token


@dataclass(frozen=True)
class Gateway:
    node_id: uuid.UUID
    url: str
    token: str
    mode: str  # "swarm" or "local"
    region: str | None
    reported_in_flight: int
    start_block: int
    end_block: int
    total_blocks: int


@dataclass
class GatewayStats:
    """What this replica measured itself: requests in flight and a moving average of time to first token."""

    in_flight: dict[uuid.UUID, int] = field(default_factory=dict)
    ttft_ewma_s: dict[uuid.UUID, float] = field(default_factory=dict)
    alpha: float = 0.3

    def started(self, node_id: uuid.UUID) -> None:
        self.in_flight[node_id] = self.in_flight.get(node_id, 0) + 1

    def finished(self, node_id: uuid.UUID) -> None:
        self.in_flight[node_id] = max(0, self.in_flight.get(node_id, 0) - 1)

    def observe_ttft(self, node_id: uuid.UUID, seconds: float) -> None:
        previous = self.ttft_ewma_s.get(node_id)
        self.ttft_ewma_s[node_id] = seconds if previous is None else previous + self.alpha * (seconds - previous)

    def penalize(self, node_id: uuid.UUID, seconds: float = 30.0) -> None:
        """A failed gateway looks slow for a while, so healthy ones are preferred."""
        self.observe_ttft(node_id, seconds)


@dataclass(frozen=True)
class RoutePlan:
    gateways: list[Gateway]
    use_swarm: bool
    swarm_nodes: int
    covered: bool


_QUERY = """
SELECT id, gateway_url, token_generation, mode, region, in_flight, start_block, end_block, total_blocks
FROM far_nodes
WHERE model_id = $1 AND status = 'online' AND last_seen > $2
"""


async def plan_route(
    conn: asyncpg.Connection, model_id: str, *, now: datetime, offline_after_s: int, server_secret: str,
    stats: GatewayStats, min_swarm_nodes: int, region: str | None = None,
) -> RoutePlan:
    rows = await conn.fetch(_QUERY, model_id, now - timedelta(seconds=offline_after_s))
    swarm = [r for r in rows if r["mode"] == "swarm"]
    total = max((r["total_blocks"] for r in swarm), default=0)
    served = {b for r in swarm for b in range(r["start_block"], r["end_block"])}
    covered = total > 0 and len(served) >= total
    use_swarm = covered and len(swarm) >= min_swarm_nodes

    gateways = [
        Gateway(node_id=r["id"], url=r["gateway_url"], token=gateway_token(server_secret, r["id"], r["token_generation"]),
                mode=r["mode"], region=r["region"], reported_in_flight=r["in_flight"], start_block=r["start_block"],
                end_block=r["end_block"], total_blocks=r["total_blocks"])
        for r in rows if r["gateway_url"]
    ]
    # A swarm gateway is useless while the swarm does not cover the model.
    gateways = [g for g in gateways if g.mode == "local" or covered]

    def score(g: Gateway) -> tuple[int, int, int, float]:
        preferred_mode = "swarm" if use_swarm else "local"
        load = stats.in_flight.get(g.node_id, 0) + g.reported_in_flight
        return (
            0 if g.mode == preferred_mode else 1,
            0 if region is None or g.region == region else 1,
            load,
            stats.ttft_ewma_s.get(g.node_id, 0.0),
        )

    return RoutePlan(gateways=sorted(gateways, key=score), use_swarm=use_swarm, swarm_nodes=len(swarm), covered=covered)
