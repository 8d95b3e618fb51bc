"""Choosing a gateway for a model: health, load, measured latency, region, and the central fallback.

The swarm is used when at least `min_swarm_nodes` distinct online nodes serve the model and together cover
every block (the plan's Risk 1); otherwise gateways registered in local (centralized) mode go first.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from ..db.nodes import RoutableNode
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


class NodeCache:
    """Each model's online nodes as read at most `ttl_s` ago, so that a request does not read them again (a
    round trip and a query before every first token; at 1,000 concurrent starts, 1,000 of them).

    A registration or unregistration through this replica clears it, so one replica sees its nodes come and go
    at once. On other replicas, a node that went away within the TTL is tried and fails like any failed
    gateway, and the failover reads afresh (Coordinator.refresh_route); a new node is used from the next read.
    Loads are not taken stale from here: the ordering adds this replica's live counts (GatewayStats) to the
    nodes' reported ones, which are up to 30 s old anyway. Only a read that found nodes is kept.
    """

    def __init__(self, ttl_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._rows: dict[str, tuple[float, list[RoutableNode]]] = {}

    def get(self, model_id: str) -> list[RoutableNode] | None:
        entry = self._rows.get(model_id)
        if entry is None or entry[0] <= self._clock():
            return None
        return entry[1]

    def clear(self) -> None:
        self._rows.clear()

    def put(self, model_id: str, rows: list[RoutableNode]) -> None:
        if rows and self.ttl_s > 0:
            if len(self._rows) >= 1000:  # bounded: model ids come from requests
                self._rows.clear()
            self._rows[model_id] = (self._clock() + self.ttl_s, rows)
        else:
            self._rows.pop(model_id, None)


def plan_route(
    rows: list[RoutableNode], *, server_secret: str, stats: GatewayStats, min_swarm_nodes: int,
    region: str | None = None,
) -> RoutePlan:
    """Order the gateways of these nodes (db.nodes.routable_nodes()) for one request."""
    swarm = [r for r in rows if r.mode == "swarm"]
    total = max((r.total_blocks for r in swarm), default=0)
    served = {b for r in swarm for b in range(r.start_block, r.end_block)}
    covered = total > 0 and len(served) >= total
    use_swarm = covered and len(swarm) >= min_swarm_nodes

    gateways = [
        Gateway(node_id=r.node_id, url=r.gateway_url, token=gateway_token(server_secret, r.node_id, r.token_generation),
                mode=r.mode, region=r.region, reported_in_flight=r.in_flight, start_block=r.start_block,
                end_block=r.end_block, total_blocks=r.total_blocks)
        for r in rows if r.gateway_url
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
