"""Discovery's rules as plain async functions over a connection: tests call these directly."""

from __future__ import annotations

import dataclasses
import hashlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import asyncpg

from farlabs_protocol import authorization_message, registration_message, signed_by

from ..auth.tokens import GATEWAY_TOKEN_PREFIX, NODE_TOKEN_PREFIX, derive_token, hash_secret, new_secret
from ..db import nodes as db_nodes
from ..db.nodes import BeatRow
from ..errors import AuthenticationError, NotFound, ValidationFailed, unknown_node_token
from .models import (
    HeartbeatRequest,
    HeartbeatResponse,
    ModelNodes,
    NodeInfo,
    RegisterRequest,
    RegisterResponse,
    UnregisterResponse,
)


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
    if not signed_by(registration_message(req.model_dump()), req.signature, req.node_address):
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
    if not signed_by(authorization_message(req.wallet_address, req.node_address), req.authorization, req.wallet_address):
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
        fresh = await db_nodes.claim_signature(conn, signature_hash, req.node_address.lower(), now=now,
                                               forget_before=now - timedelta(seconds=2 * max_skew_s))
        if not fresh:
            raise AuthenticationError(
                "This registration signature was already used; sign a fresh one.", code="replayed_signature",
                param="signature",
            )
        registered = await db_nodes.upsert_node(conn, db_nodes.NewNode(
            node_address=req.node_address.lower(), wallet_address=req.wallet_address.lower(),
            node_name=req.node_name, peer_id=req.peer_id, model_id=req.model_id, start_block=req.start_block,
            end_block=req.end_block, total_blocks=req.total_blocks, mode=req.mode, gateway_url=req.gateway_url,
            region=req.region, hardware=req.hardware.model_dump(exclude_none=True), token_hash=hash_secret(node_token),
        ), now=now)
    return RegisterResponse(
        node_id=registered.node_id, node_token=node_token,
        gateway_token=gateway_token(server_secret, registered.node_id, registered.token_generation),
        heartbeat_interval_s=heartbeat_interval_s, status="online",
    )


@dataclass(frozen=True)
class Beat:
    """One heartbeat to record: the node's token hash (its authentication), what it reports, and when."""

    token_hash: str
    req: HeartbeatRequest
    seen_at: datetime


async def record_heartbeats(conn: asyncpg.Connection, beats: Sequence[Beat]) -> list[BeatRow]:
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
    return await db_nodes.record_heartbeats(conn, payload)


def heartbeat_response(row: BeatRow, req: HeartbeatRequest, heartbeat_interval_s: int) -> HeartbeatResponse:
    """The answer to one recorded beat, or the error it deserves."""
    if row.outcome == "unknown_token":
        raise unknown_node_token()
    if row.outcome == "bad_blocks":
        raise ValidationFailed(
            "start_block and end_block must satisfy 0 <= start_block < end_block <= the model's total_blocks.",
            param="end_block" if req.end_block is not None else "start_block",
        )
    # outcome 'ok' carries the books
    assert row.node_id is not None and row.tokens_credited is not None
    assert row.earned_far is not None and row.unpaid_far is not None
    return HeartbeatResponse(
        node_id=row.node_id, status="online", tokens_credited=row.tokens_credited,
        earned_far=row.earned_far, unpaid_far=row.unpaid_far, heartbeat_interval_s=heartbeat_interval_s,
    )


async def unregister(conn: asyncpg.Connection, node_id: uuid.UUID) -> UnregisterResponse:
    """Offline at once; its token stops working (a returning node registers again)."""
    await db_nodes.set_offline(conn, node_id)
    return UnregisterResponse(node_id=node_id, status="offline")


async def active_nodes(conn: asyncpg.Connection, *, now: datetime, model_id: str | None = None) -> list[NodeInfo]:
    """Nodes online at `now`, optionally for one model; the freshest first."""
    rows = await db_nodes.online_nodes(conn, now=now, model_id=model_id)
    return [NodeInfo.model_validate(dataclasses.asdict(r)) for r in rows]


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


async def model_nodes(conn: asyncpg.Connection, model_id: str, *, now: datetime) -> ModelNodes:
    nodes = await active_nodes(conn, now=now, model_id=model_id)
    if not nodes and not await db_nodes.model_known(conn, model_id):
        raise NotFound(f"No node has ever served model {model_id!r}.", code="model_not_found", param="model_id")
    total, missing = coverage(nodes)
    return ModelNodes(model_id=model_id, total_blocks=total, covered=bool(nodes) and not missing,
                      missing_blocks=missing, nodes=nodes)

