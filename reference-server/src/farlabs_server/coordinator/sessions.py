"""Session records: open one per request id (idempotently), close it with its contributions in one transaction."""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg

from ..db import sessions as db_sessions
from ..db.sessions import SessionRow
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
    user_wallet: str | None, model_id: str, price_per_token_far: Decimal, region: str | None, replica_id: uuid.UUID,
) -> Opened:
    """A new pending session, or the finished answer of an earlier identical request (never a second charge).

    The new row's commit does not wait for the WAL flush (migration 007 says why that is safe); run it on its
    own, not inside a transaction.
    """
    session_id = await db_sessions.open_session(
        conn, request_id=request_id, request_hash=fingerprint, api_key_id=api_key_id,
        user_wallet=user_wallet.lower() if user_wallet else None, model_id=model_id,
        price_per_token_far=price_per_token_far, region=region, replica_id=replica_id,
    )
    if session_id is not None:
        return Opened(session_id)
    row = await db_sessions.session_by_request_id(conn, request_id)
    assert row is not None  # the id was taken, and sessions are never deleted
    if row.request_hash != fingerprint:
        raise Conflict(f"request_id {request_id!r} was already used for a different request.",
                       code="request_id_reused", param="request_id")
    # Nothing was delivered or charged: a retry with the same id may simply try again.
    undelivered = row.status in ("failed", "cancelled") and row.tokens_generated == 0
    if undelivered and await db_sessions.reopen_undelivered(conn, row.id, replica_id):
        return Opened(row.id)
    if row.status in ("pending", "streaming"):
        return Opened(row.id, in_flight=True)
    if row.status != "completed":
        raise Conflict(f"request_id {request_id!r} is {row.status}; use a new request_id to try again.",
                       code=f"request_{row.status}", param="request_id")
    return Opened(row.id, replay=_result(row))


def _result(row: SessionRow) -> GenerateResult:
    return GenerateResult.model_validate(dict(
        request_id=row.request_id, session_id=row.id, model_id=row.model_id,
        text=bytes(row.completion_text or b"").decode(), finish_reason=row.finish_reason, cost_far=row.cost_far,
        usage=Usage(prompt_tokens=row.prompt_tokens, completion_tokens=row.tokens_generated,
                    total_tokens=row.prompt_tokens + row.tokens_generated),
        route=[RouteHop.model_validate(hop) for hop in row.route],
        time_to_first_token_ms=row.time_to_first_token_ms,
    ))


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
    await db_sessions.close_session(conn, session_id, db_sessions.SessionTotals(
        status=outcome.status, finish_reason=outcome.finish_reason, prompt_tokens=outcome.prompt_tokens,
        tokens_generated=outcome.tokens_generated, completion_text=outcome.text.encode(), cost_far=outcome.cost_far,
        platform_fee_far=outcome.platform_fee_far, route=[h.model_dump(mode="json") for h in outcome.route],
        time_to_first_token_ms=outcome.time_to_first_token_ms, gateway_node_id=outcome.gateway_node_id,
        gateway_attempts=outcome.gateway_attempts, error_type=outcome.error_type,
    ), [db_sessions.NewContribution(node_id=s.work.node_id, start_block=s.work.start_block, end_block=s.work.end_block,
                                    tokens_contributed=s.work.tokens, block_tokens=s.work.block_tokens,
                                    payment_far=s.payment_far) for s in outcome.shares])
