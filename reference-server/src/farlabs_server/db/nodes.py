"""The node registry: registration, heartbeats, going offline, and who is online.

"Online" is `far_node_online()` (migration 009), with the server's clock as `now` and its offline window set
on every pooled connection (database.create_pool): the same rule as the `active_far_nodes` view.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import asyncpg


@dataclass(frozen=True)
class NewNode:
    """What a registration writes (addresses already lower-case)."""

    node_address: str
    wallet_address: str
    node_name: str
    peer_id: str | None
    model_id: str
    start_block: int
    end_block: int
    total_blocks: int
    mode: str
    gateway_url: str | None
    region: str | None
    hardware: dict[str, Any]
    token_hash: str


@dataclass(frozen=True)
class Registered:
    node_id: uuid.UUID
    token_generation: int  # bumped by every registration: the gateway token derived from it changes too


@dataclass(frozen=True)
class NodeRow:
    """A node as discovery shows it; `status` is its effective one (stored 'online' and seen recently)."""

    node_id: uuid.UUID
    wallet_address: str
    node_name: str
    peer_id: str | None
    model_id: str
    start_block: int
    end_block: int
    total_blocks: int
    mode: str
    gateway_url: str | None
    region: str | None
    hardware: dict[str, Any]
    throughput_tps: float | None
    in_flight: int
    last_seen: datetime
    registered_at: datetime
    online_since: datetime
    status: str


@dataclass(frozen=True)
class RoutableNode:
    """An online node as the coordinator routes to it."""

    node_id: uuid.UUID
    gateway_url: str | None
    token_generation: int
    mode: str
    region: str | None
    in_flight: int  # as the node last reported it
    start_block: int
    end_block: int
    total_blocks: int


@dataclass(frozen=True)
class BeatRow:
    """One recorded heartbeat: `outcome` is 'ok' (with the node's books), 'unknown_token' or 'bad_blocks'."""

    beat: int
    node_id: uuid.UUID | None
    outcome: str
    tokens_credited: int | None
    earned_far: Decimal | None
    unpaid_far: Decimal | None


@dataclass(frozen=True)
class ServedModel:
    model_id: str
    created: int  # unix seconds: when its first online node registered


async def claim_signature(conn: asyncpg.Connection, signature_hash: str, node_address: str, *, now: datetime,
                          forget_before: datetime) -> bool:
    """Record a registration signature as used; False when it already was (a replay). Signatures seen before
    `forget_before` are dropped: they can no longer pass the timestamp check."""
    used = await conn.fetchval(
        """INSERT INTO far_node_signatures (signature_hash, node_address, seen_at) VALUES ($1, $2, $3)
           ON CONFLICT (signature_hash) DO NOTHING RETURNING 1""",
        signature_hash, node_address, now,
    )
    if used is None:
        return False
    await conn.execute("DELETE FROM far_node_signatures WHERE seen_at < $1", forget_before)
    return True


async def upsert_node(conn: asyncpg.Connection, node: NewNode, *, now: datetime) -> Registered:
    """Register (or re-register, by node address): online from `now`, with a new token and token generation."""
    row = await conn.fetchrow(
        """INSERT INTO far_nodes (node_address, wallet_address, node_name, peer_id, model_id, start_block,
               end_block, total_blocks, mode, gateway_url, region, hardware, status, token_hash,
               registered_at, online_since, last_seen)
           VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, 'online', $13, $14, $14, $14)
           ON CONFLICT (node_address) DO UPDATE SET
               wallet_address = EXCLUDED.wallet_address, node_name = EXCLUDED.node_name,
               peer_id = EXCLUDED.peer_id, model_id = EXCLUDED.model_id,
               start_block = EXCLUDED.start_block, end_block = EXCLUDED.end_block,
               total_blocks = EXCLUDED.total_blocks, mode = EXCLUDED.mode,
               gateway_url = EXCLUDED.gateway_url, region = EXCLUDED.region, hardware = EXCLUDED.hardware,
               status = 'online', token_hash = EXCLUDED.token_hash,
               token_generation = far_nodes.token_generation + 1,
               online_since = EXCLUDED.online_since, last_seen = EXCLUDED.last_seen, in_flight = 0
           RETURNING id, token_generation""",
        node.node_address, node.wallet_address, node.node_name, node.peer_id, node.model_id, node.start_block,
        node.end_block, node.total_blocks, node.mode, node.gateway_url, node.region, node.hardware, node.token_hash,
        now,
    )
    return Registered(node_id=row["id"], token_generation=row["token_generation"])


async def record_heartbeats(conn: asyncpg.Connection, beats: list[dict[str, Any]]) -> list[BeatRow]:
    """far_node_heartbeats() (migrations 008, 009): one statement for a batch of beats, one row per beat in
    the order given. Run it on its own, not inside a transaction: it commits without waiting for the WAL flush."""
    rows = await conn.fetch("SELECT * FROM far_node_heartbeats($1) ORDER BY beat", beats)
    return [BeatRow(**dict(r)) for r in rows]


async def set_offline(conn: asyncpg.Connection, node_id: uuid.UUID) -> None:
    """Offline at once; its token stops working."""
    await conn.execute("UPDATE far_nodes SET status = 'offline', token_hash = NULL, in_flight = 0 WHERE id = $1",
                       node_id)


async def node_by_token_hash(conn: asyncpg.Connection, token_hash: str) -> uuid.UUID | None:
    node_id: uuid.UUID | None = await conn.fetchval("SELECT id FROM far_nodes WHERE token_hash = $1", token_hash)
    return node_id


async def wallet_of(conn: asyncpg.Connection, node_id: uuid.UUID) -> str | None:
    wallet: str | None = await conn.fetchval("SELECT wallet_address FROM far_nodes WHERE id = $1", node_id)
    return wallet


async def model_known(conn: asyncpg.Connection, model_id: str) -> bool:
    """Whether any node, online or not, ever registered for this model."""
    return bool(await conn.fetchval("SELECT 1 FROM far_nodes WHERE model_id = $1 LIMIT 1", model_id))


async def nodes_by_peer(conn: asyncpg.Connection, peer_ids: list[str]) -> dict[str, uuid.UUID]:
    """Registered nodes for these Petals peer ids, whatever their status now."""
    rows = await conn.fetch("SELECT peer_id, id FROM far_nodes WHERE peer_id = ANY($1::text[])", peer_ids)
    return {r["peer_id"]: r["id"] for r in rows}


_NODE_COLUMNS = """
    id AS node_id, wallet_address, node_name, peer_id, model_id, start_block, end_block, total_blocks, mode,
    gateway_url, region, hardware, throughput_tps, in_flight, last_seen, registered_at, online_since,
    CASE WHEN far_node_online(n, $1) THEN 'online' ELSE 'offline' END AS status
"""


async def online_nodes(conn: asyncpg.Connection, *, now: datetime, model_id: str | None = None) -> list[NodeRow]:
    """Nodes online at `now`, optionally for one model; by model and first block, the freshest first."""
    rows = await conn.fetch(
        f"""SELECT {_NODE_COLUMNS} FROM far_nodes n
            WHERE far_node_online(n, $1) AND ($2::text IS NULL OR model_id = $2)
            ORDER BY model_id, start_block, last_seen DESC""",
        now, model_id,
    )
    return [NodeRow(**dict(r)) for r in rows]


async def routable_nodes(conn: asyncpg.Connection, model_id: str, *, now: datetime) -> list[RoutableNode]:
    """The model's online nodes, as the coordinator chooses among them."""
    rows = await conn.fetch(
        """SELECT id AS node_id, gateway_url, token_generation, mode, region, in_flight, start_block, end_block,
                  total_blocks
           FROM far_nodes n WHERE model_id = $1 AND far_node_online(n, $2)""",
        model_id, now,
    )
    return [RoutableNode(**dict(r)) for r in rows]


async def served_models(conn: asyncpg.Connection, *, now: datetime) -> list[ServedModel]:
    """Models with at least one online node."""
    rows = await conn.fetch(
        """SELECT model_id, extract(epoch FROM min(registered_at))::bigint AS created FROM far_nodes n
           WHERE far_node_online(n, $1) GROUP BY model_id ORDER BY model_id""",
        now,
    )
    return [ServedModel(**dict(r)) for r in rows]
