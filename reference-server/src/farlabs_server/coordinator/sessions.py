"""Session records: open one per request id (idempotently), close it with its contributions in one transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from ..errors import Conflict
from .metering import Share
from .models import GenerateResult, RouteHop, Usage


def request_fingerprint(body: dict[str, Any]) -> str:
    """Same logical request ⇔ same fingerprint (the `stream` flag does not change what is generated)."""
    canonical = {k: v for k, v in body.items() if k not in ("stream", "request_id") and v is not None}
    return hashlib.sha256(json.dumps(canonical, sort_keys=True, default=str).encode()).hexdigest()


@dataclass(frozen=True)
class Opened:
    session_id: uuid.UUID
    replay: GenerateResult | None = None  # set when this request id already completed
    in_flight: bool = False  # the same request is being generated right now (a client retry): wait for it


async def open_session(
    conn: asyncpg.Connection, *, request_id: str, fingerprint: str, api_key_id: uuid.UUID | None,
    user_wallet: str | None, model_id: str, price_per_token_far: Decimal, region: str | None,
) -> Opened:
    """A new pending session, or the finished answer of an earlier identical request (never a second charge).

    The new row's commit does not wait for the WAL flush (migration 007 says why that is safe); run it on its
    own, not inside a transaction.
    """
    session_id = await conn.fetchval(
        "SELECT far_open_session($1, $2, $3, $4, $5, $6, $7)",
        request_id, fingerprint, api_key_id, user_wallet.lower() if user_wallet else None, model_id,
        price_per_token_far, region,
    )
    if session_id is not None:
        return Opened(session_id)
    row = await conn.fetchrow("SELECT * FROM far_mesh_sessions WHERE request_id = $1", request_id)
    if row["request_hash"] != fingerprint:
        raise Conflict(f"request_id {request_id!r} was already used for a different request.",
                       code="request_id_reused", param="request_id")
    if row["status"] in ("failed", "cancelled") and row["tokens_generated"] == 0:
        # Nothing was delivered or charged: a retry with the same id may simply try again.
        reopened = await conn.fetchval(
            """UPDATE far_mesh_sessions SET status = 'pending', completed_at = NULL, finish_reason = NULL,
                   error_type = NULL WHERE id = $1 AND status IN ('failed', 'cancelled') AND tokens_generated = 0
               RETURNING id""",
            row["id"],
        )
        if reopened is not None:
            return Opened(reopened)
    if row["status"] in ("pending", "streaming"):
        return Opened(row["id"], in_flight=True)
    if row["status"] != "completed":
        raise Conflict(f"request_id {request_id!r} is {row['status']}; use a new request_id to try again.",
                       code=f"request_{row['status']}", param="request_id")
    return Opened(row["id"], replay=_result(row))


def _result(row: asyncpg.Record) -> GenerateResult:
    return GenerateResult(
        request_id=row["request_id"], session_id=row["id"], model_id=row["model_id"],
        text=bytes(row["completion_text"] or b"").decode(),
        finish_reason=row["finish_reason"], cost_far=row["cost_far"],
        usage=Usage(prompt_tokens=row["prompt_tokens"], completion_tokens=row["tokens_generated"],
                    total_tokens=row["prompt_tokens"] + row["tokens_generated"]),
        route=[RouteHop.model_validate(hop) for hop in row["route"]],
        time_to_first_token_ms=row["time_to_first_token_ms"],
    )


@dataclass(frozen=True)
class Outcome:
    status: str  # completed, failed or cancelled
    finish_reason: str | None
    prompt_tokens: int
    tokens_generated: int
    text: str
    cost_far: Decimal
    platform_fee_far: Decimal
    shares: list[Share]
    route: list[RouteHop]
    time_to_first_token_ms: float | None
    gateway_node_id: uuid.UUID | None
    gateway_attempts: int
    error_type: str | None = None


async def close_session(conn: asyncpg.Connection, session_id: uuid.UUID, outcome: Outcome) -> None:
    """Contributions, totals and final status together, checked by finalize_session()."""
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO far_session_contributions (session_id, node_id, start_block, end_block, tokens_contributed,
                   block_tokens, payment_far) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            [(session_id, s.work.node_id, s.work.start_block, s.work.end_block, s.work.tokens, s.work.block_tokens,
              s.payment_far) for s in outcome.shares],
        )
        await conn.execute(
            """UPDATE far_mesh_sessions SET prompt_tokens = $2, tokens_generated = $3, completion_text = $4,
                   cost_far = $5, platform_fee_far = $6, route = $7, time_to_first_token_ms = $8,
                   gateway_node_id = $9, gateway_attempts = $10, error_type = $11
               WHERE id = $1""",
            session_id, outcome.prompt_tokens, outcome.tokens_generated, outcome.text.encode(), outcome.cost_far,
            outcome.platform_fee_far, [h.model_dump(mode="json") for h in outcome.route],
            outcome.time_to_first_token_ms, outcome.gateway_node_id, outcome.gateway_attempts, outcome.error_type,
        )
        await conn.execute("SELECT (finalize_session($1, $2, $3)).id", session_id, outcome.status, outcome.finish_reason)


async def nodes_by_peer(conn: asyncpg.Connection, peer_ids: list[str]) -> dict[str, uuid.UUID]:
    """Registered nodes for these Petals peer ids (whatever their status now: they did the work)."""
    rows = await conn.fetch("SELECT peer_id, id FROM far_nodes WHERE peer_id = ANY($1::text[])", peer_ids)
    return {r["peer_id"]: r["id"] for r in rows}
