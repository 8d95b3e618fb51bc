"""Sessions and their per-node contributions: open one per request id, reopen, close with its books."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg


@dataclass(frozen=True)
class SessionRow:
    """A session as idempotency needs it: who asked what, where it stands, and the answer it gave."""

    id: uuid.UUID
    request_id: str
    request_hash: str | None
    model_id: str
    status: str
    tokens_generated: int
    prompt_tokens: int
    completion_text: bytes | None
    finish_reason: str | None
    cost_far: Decimal
    route: list[dict[str, Any]]
    time_to_first_token_ms: float | None


@dataclass(frozen=True)
class NewContribution:
    node_id: uuid.UUID
    start_block: int
    end_block: int
    tokens_contributed: int
    block_tokens: int
    payment_far: Decimal


@dataclass(frozen=True)
class SessionTotals:
    """What a session comes to when it closes (finalize_session() checks the shares add up to it)."""

    status: str  # completed, failed or cancelled
    finish_reason: str | None
    prompt_tokens: int
    tokens_generated: int
    completion_text: bytes
    cost_far: Decimal
    platform_fee_far: Decimal
    route: list[dict[str, Any]]
    time_to_first_token_ms: float | None
    gateway_node_id: uuid.UUID | None
    gateway_attempts: int
    error_type: str | None


async def open_session(conn: asyncpg.Connection, *, request_id: str, request_hash: str,
                       api_key_id: uuid.UUID | None, user_wallet: str | None, model_id: str,
                       price_per_token_far: Decimal, region: str | None,
                       replica_id: uuid.UUID) -> uuid.UUID | None:
    """A new pending session's id, or None when the request id is taken. far_open_session() (migrations 007,
    011) commits without waiting for the WAL flush: run it on its own, not inside a transaction."""
    session_id: uuid.UUID | None = await conn.fetchval(
        "SELECT far_open_session($1, $2, $3, $4, $5, $6, $7, $8)",
        request_id, request_hash, api_key_id, user_wallet, model_id, price_per_token_far, region, replica_id,
    )
    return session_id


async def session_by_request_id(conn: asyncpg.Connection, request_id: str) -> SessionRow | None:
    row = await conn.fetchrow(
        """SELECT id, request_id, request_hash, model_id, status, tokens_generated, prompt_tokens, completion_text,
                  finish_reason, cost_far, route, time_to_first_token_ms
           FROM far_mesh_sessions WHERE request_id = $1""",
        request_id,
    )
    return SessionRow(**dict(row)) if row else None


async def reopen_undelivered(conn: asyncpg.Connection, session_id: uuid.UUID, replica_id: uuid.UUID) -> bool:
    """Back to pending, now on `replica_id`, a failed or cancelled session that delivered nothing (so charged
    nothing)."""
    reopened = await conn.fetchval(
        """UPDATE far_mesh_sessions SET status = 'pending', completed_at = NULL, finish_reason = NULL,
               error_type = NULL, replica_id = $2
           WHERE id = $1 AND status IN ('failed', 'cancelled') AND tokens_generated = 0
           RETURNING id""",
        session_id, replica_id,
    )
    return reopened is not None


async def close_session(conn: asyncpg.Connection, session_id: uuid.UUID, totals: SessionTotals,
                        contributions: list[NewContribution]) -> None:
    """Contributions, totals and final status in one transaction, checked by finalize_session()."""
    async with conn.transaction():
        await conn.executemany(
            """INSERT INTO far_session_contributions (session_id, node_id, start_block, end_block, tokens_contributed,
                   block_tokens, payment_far) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
            [(session_id, c.node_id, c.start_block, c.end_block, c.tokens_contributed, c.block_tokens, c.payment_far)
             for c in contributions],
        )
        await conn.execute(
            """UPDATE far_mesh_sessions SET prompt_tokens = $2, tokens_generated = $3, completion_text = $4,
                   cost_far = $5, platform_fee_far = $6, route = $7, time_to_first_token_ms = $8,
                   gateway_node_id = $9, gateway_attempts = $10, error_type = $11
               WHERE id = $1""",
            session_id, totals.prompt_tokens, totals.tokens_generated, totals.completion_text, totals.cost_far,
            totals.platform_fee_far, totals.route, totals.time_to_first_token_ms, totals.gateway_node_id,
            totals.gateway_attempts, totals.error_type,
        )
        await conn.execute("SELECT (finalize_session($1, $2, $3)).id", session_id, totals.status, totals.finish_reason)


async def mark_unrecorded(conn: asyncpg.Connection, session_id: uuid.UUID) -> None:
    """A session whose recording failed: failed, so that its request id is not stuck as pending."""
    await conn.execute(
        """UPDATE far_mesh_sessions SET status = 'failed', completed_at = now(), error_type = 'record_failed'
           WHERE id = $1 AND status IN ('pending', 'streaming')""",
        session_id,
    )
