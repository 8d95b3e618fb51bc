"""What a provider reads about its wallet: nodes, books, earnings per day and per node, payments.

Wallets are stored lower-case: callers pass them lower-case. "Online" is far_node_online() and "unpaid"
far_contribution_unpaid() (migration 009), as everywhere.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import asyncpg


@dataclass(frozen=True)
class WalletBooks:
    nodes_total: int
    nodes_online: int
    sessions: int
    tokens_contributed: int
    block_tokens: int
    earned_far: Decimal
    paid_far: Decimal
    unpaid_far: Decimal
    last_paid_at: dt.datetime | None


@dataclass(frozen=True)
class DayEarnings:
    day: dt.date
    far: Decimal
    tokens: int


@dataclass(frozen=True)
class NodeBooks:
    node_id: uuid.UUID
    node_name: str
    tokens: int
    earned_far: Decimal
    paid_far: Decimal
    unpaid_far: Decimal


@dataclass(frozen=True)
class PaymentRow:
    batch_id: uuid.UUID
    date: dt.datetime
    amount_far: Decimal
    status: str
    network: str
    chain_id: int | None
    tx_hash: str | None
    block_number: int | None


@dataclass(frozen=True)
class WalletNode:
    node_id: uuid.UUID
    node_name: str
    model_id: str
    start_block: int
    end_block: int
    mode: str
    peer_id: str | None
    region: str | None
    gateway_url: str | None
    last_seen: dt.datetime
    online_since: dt.datetime
    tokens_served: int
    hardware: dict[str, Any]
    status: str  # online or offline, at `now`


async def wallet_books(conn: asyncpg.Connection, wallet: str, *, now: dt.datetime) -> WalletBooks:
    nodes = await conn.fetchrow(
        """SELECT count(*) AS total, count(*) FILTER (WHERE far_node_online(n, $2)) AS online
           FROM far_nodes n WHERE wallet_address = $1""",
        wallet, now,
    )
    money = await conn.fetchrow(
        """SELECT count(DISTINCT c.session_id) AS sessions, coalesce(sum(c.tokens_contributed), 0) AS tokens,
                  coalesce(sum(c.block_tokens), 0) AS block_tokens, coalesce(sum(c.payment_far), 0) AS earned,
                  coalesce(sum(c.payment_far) FILTER (WHERE NOT far_contribution_unpaid(c)), 0) AS paid,
                  coalesce(sum(c.payment_far) FILTER (WHERE far_contribution_unpaid(c)), 0) AS unpaid,
                  max(c.paid_at) AS last_paid
           FROM far_session_contributions c JOIN far_nodes n ON n.id = c.node_id
           WHERE n.wallet_address = $1""",
        wallet,
    )
    return WalletBooks(
        nodes_total=nodes["total"], nodes_online=nodes["online"], sessions=money["sessions"],
        tokens_contributed=money["tokens"], block_tokens=money["block_tokens"], earned_far=money["earned"],
        paid_far=money["paid"], unpaid_far=money["unpaid"], last_paid_at=money["last_paid"],
    )


async def earnings_by_day(conn: asyncpg.Connection, wallet: str, *, since: dt.datetime) -> list[DayEarnings]:
    """FAR and tokens per UTC day since `since`, for the days that have any."""
    rows = await conn.fetch(
        """SELECT (c.created_at AT TIME ZONE 'UTC')::date AS day, sum(c.payment_far) AS far,
                  sum(c.tokens_contributed) AS tokens
           FROM far_session_contributions c JOIN far_nodes n ON n.id = c.node_id
           WHERE n.wallet_address = $1 AND c.created_at >= $2
           GROUP BY day""",
        wallet, since,
    )
    return [DayEarnings(**dict(r)) for r in rows]


async def earnings_by_node(conn: asyncpg.Connection, wallet: str) -> list[NodeBooks]:
    rows = await conn.fetch(
        """SELECT node_id, node_name, tokens_contributed AS tokens, total_earned_far AS earned_far, paid_far,
                  unpaid_far
           FROM node_earnings_summary WHERE wallet_address = $1 ORDER BY node_name""",
        wallet,
    )
    return [NodeBooks(**dict(r)) for r in rows]


async def payments(conn: asyncpg.Connection, wallet: str) -> list[PaymentRow]:
    """Every batch that pays this wallet, whatever its status, the newest first."""
    rows = await conn.fetch(
        """SELECT b.id AS batch_id, coalesce(b.confirmed_at, b.created_at) AS date, r.amount_far, b.status,
                  b.network, b.chain_id, b.tx_hash, b.block_number
           FROM far_payment_recipients r JOIN far_payment_batches b ON b.id = r.batch_id
           WHERE r.wallet_address = $1 ORDER BY b.created_at DESC""",
        wallet,
    )
    return [PaymentRow(**dict(r)) for r in rows]


async def wallet_nodes(conn: asyncpg.Connection, wallet: str, *, now: dt.datetime) -> list[WalletNode]:
    rows = await conn.fetch(
        """SELECT id AS node_id, node_name, model_id, start_block, end_block, mode, peer_id, region, gateway_url,
                  last_seen, online_since, tokens_served, hardware,
                  CASE WHEN far_node_online(n, $2) THEN 'online' ELSE 'offline' END AS status
           FROM far_nodes n WHERE wallet_address = $1 ORDER BY node_name""",
        wallet, now,
    )
    return [WalletNode(**dict(r)) for r in rows]
