"""Discovery's rules as plain async functions over a connection: tests call these directly."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from ..auth.principal import unknown_node_token
from ..auth.tokens import GATEWAY_TOKEN_PREFIX, NODE_TOKEN_PREFIX, derive_token, hash_secret, new_secret
from ..errors import AuthenticationError, NotFound, ValidationFailed
from .models import (
    HeartbeatRequest,
    HeartbeatResponse,
    ModelNodes,
    NodeInfo,
    RegisterRequest,
    RegisterResponse,
    UnregisterResponse,
)
from .signatures import authorization_message, recover_signer, registration_message

# Effective status: stored 'online' and seen within the offline window ($1 = the oldest acceptable last_seen).
_NODE_COLUMNS = """
    id AS node_id, wallet_address, node_name, peer_id, model_id, start_block, end_block, total_blocks, mode,
    gateway_url, region, hardware, throughput_tps, in_flight, last_seen, registered_at, online_since,
    CASE WHEN status = 'online' AND last_seen > $1 THEN 'online' ELSE 'offline' END AS status
"""


def gateway_token(server_secret: str, node_id: uuid.UUID, generation: int) -> str:
    """The secret the coordinator shows a node's gateway; recomputed from the server secret, never stored."""
    return GATEWAY_TOKEN_PREFIX + derive_token(server_secret, "gateway", f"{node_id}:{generation}")


def verify_registration(req: RegisterRequest, now: datetime, max_skew_s: int) -> None:
    """Fresh timestamp, node-key signature, and the wallet's authorization of that key."""
    if abs(now.timestamp() - req.timestamp) > max_skew_s:
        raise AuthenticationError(
            f"The registration timestamp is more than {max_skew_s} s from the server's clock; sign a fresh one.",
            code="stale_signature", param="timestamp",
        )
    signer = recover_signer(registration_message(req.model_dump()), req.signature)
    if signer is None or signer.lower() != req.node_address.lower():
        raise AuthenticationError(
            "The registration signature does not match node_address over this body (docs/protocol.md, "
            "\"Wallet proof\": it covers the model, blocks, mode, gateway_url and region; an older far-node "
            "signs less: update it).", code="invalid_signature", param="signature"
        )
    if req.node_address.lower() == req.wallet_address.lower():
        return
    if req.authorization is None:
        raise AuthenticationError(
            "A node key other than the wallet needs the wallet's authorization signature.",
            code="missing_authorization", param="authorization",
        )
    owner = recover_signer(authorization_message(req.wallet_address, req.node_address), req.authorization)
    if owner is None or owner.lower() != req.wallet_address.lower():
        raise AuthenticationError(
            "The authorization was not signed by wallet_address.", code="invalid_authorization", param="authorization"
        )


async def register_node(
    conn: asyncpg.Connection, req: RegisterRequest, *, now: datetime, server_secret: str,
    max_skew_s: int, heartbeat_interval_s: int,
) -> RegisterResponse:
    verify_registration(req, now, max_skew_s)
    node_token = new_secret(NODE_TOKEN_PREFIX)
    signature_hash = hashlib.sha256(bytes.fromhex(req.signature[2:].lower())).hexdigest()
    async with conn.transaction():
        used = await conn.fetchval(
            """INSERT INTO far_node_signatures (signature_hash, node_address, seen_at) VALUES ($1, $2, $3)
               ON CONFLICT (signature_hash) DO NOTHING RETURNING 1""",
            signature_hash, req.node_address.lower(), now,
        )
        if used is None:
            raise AuthenticationError(
                "This registration signature was already used; sign a fresh one.", code="replayed_signature",
                param="signature",
            )
        # Older signatures can no longer pass the timestamp check, so they need no memory.
        await conn.execute(
            "DELETE FROM far_node_signatures WHERE seen_at < $1", now - timedelta(seconds=2 * max_skew_s)
        )
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
            req.node_address.lower(), req.wallet_address.lower(), req.node_name, req.peer_id, req.model_id,
            req.start_block, req.end_block, req.total_blocks, req.mode, req.gateway_url, req.region,
            req.hardware.model_dump(exclude_none=True), hash_secret(node_token), now,
        )
    return RegisterResponse(
        node_id=row["id"], node_token=node_token,
        gateway_token=gateway_token(server_secret, row["id"], row["token_generation"]),
        heartbeat_interval_s=heartbeat_interval_s, status="online",
    )


@dataclass(frozen=True)
class Beat:
    """One heartbeat to record: the node's token hash (its authentication), what it reports, and when."""

    token_hash: str
    req: HeartbeatRequest
    seen_at: datetime


async def record_heartbeats(conn: asyncpg.Connection, beats: Sequence[Beat]) -> list[asyncpg.Record]:
    """Authenticate each node by its token's hash, record its beat and read its books: one statement for all.

    At most one beat per token (a batch is written in one pass). One row per beat, in the order given, with an
    `outcome`: 'ok', 'unknown_token' or 'bad_blocks' (see migration 008; heartbeat_response() turns it into an
    answer). Run it on its own, not inside a transaction: it commits without waiting for the WAL flush.
    """
    payload = [
        {"beat": i, "token_hash": b.token_hash, "seen_at": b.seen_at.isoformat(),
         **b.req.model_dump(exclude={"hardware"}), "hardware": b.req.hardware.model_dump(exclude_none=True)}
        for i, b in enumerate(beats)
    ]
    rows = await conn.fetch("SELECT * FROM far_node_heartbeats($1) ORDER BY beat", payload)
    return list(rows)


def heartbeat_response(row: asyncpg.Record, req: HeartbeatRequest, heartbeat_interval_s: int) -> HeartbeatResponse:
    """The answer to one recorded beat, or the error it deserves."""
    if row["outcome"] == "unknown_token":
        raise unknown_node_token()
    if row["outcome"] == "bad_blocks":
        raise ValidationFailed(
            "start_block and end_block must satisfy 0 <= start_block < end_block <= the model's total_blocks.",
            param="end_block" if req.end_block is not None else "start_block",
        )
    return HeartbeatResponse(
        node_id=row["node_id"], status="online", tokens_credited=row["tokens_credited"],
        earned_far=row["earned_far"], unpaid_far=row["unpaid_far"], heartbeat_interval_s=heartbeat_interval_s,
    )


async def unregister(conn: asyncpg.Connection, node_id: uuid.UUID) -> UnregisterResponse:
    """Offline at once; its token stops working (a returning node registers again)."""
    await conn.execute(
        "UPDATE far_nodes SET status = 'offline', token_hash = NULL, in_flight = 0 WHERE id = $1", node_id
    )
    return UnregisterResponse(node_id=node_id, status="offline")


def _node(row: asyncpg.Record) -> NodeInfo:
    return NodeInfo.model_validate(dict(row))


async def active_nodes(conn: asyncpg.Connection, *, now: datetime, offline_after_s: int,
                       model_id: str | None = None) -> list[NodeInfo]:
    """Nodes seen within the offline window, optionally for one model; the freshest first."""
    rows = await conn.fetch(
        f"""SELECT {_NODE_COLUMNS} FROM far_nodes
            WHERE status = 'online' AND last_seen > $1 AND ($2::text IS NULL OR model_id = $2)
            ORDER BY model_id, start_block, last_seen DESC""",
        now - timedelta(seconds=offline_after_s), model_id,
    )
    return [_node(r) for r in rows]


def coverage(nodes: list[NodeInfo]) -> tuple[int | None, list[int]]:
    """(total blocks, blocks no online swarm node serves). A local-mode node runs the whole model on its own."""
    if not nodes:
        return None, []
    total = max(n.total_blocks for n in nodes)
    served = [False] * total
    for node in nodes:
        if node.mode == "local":
            return total, []
        for block in range(node.start_block, min(node.end_block, total)):
            served[block] = True
    return total, [b for b, ok in enumerate(served) if not ok]


async def model_nodes(conn: asyncpg.Connection, model_id: str, *, now: datetime, offline_after_s: int) -> ModelNodes:
    nodes = await active_nodes(conn, now=now, offline_after_s=offline_after_s, model_id=model_id)
    if not nodes:
        known = await conn.fetchval("SELECT 1 FROM far_nodes WHERE model_id = $1 LIMIT 1", model_id)
        if not known:
            raise NotFound(f"No node has ever served model {model_id!r}.", code="model_not_found", param="model_id")
    total, missing = coverage(nodes)
    return ModelNodes(model_id=model_id, total_blocks=total, covered=bool(nodes) and not missing,
                      missing_blocks=missing, nodes=nodes)

