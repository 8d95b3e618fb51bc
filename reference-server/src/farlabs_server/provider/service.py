"""The provider API's queries. Wallets are stored lower-case; callers pass any case."""

from __future__ import annotations

import datetime as dt

import asyncpg

from ..payouts.network import tx_url
from .models import (
    DailyEarning,
    NodeEarning,
    Payment,
    ProviderEarnings,
    ProviderNode,
    ProviderNodes,
    ProviderPayments,
    ProviderStats,
)


async def stats(conn: asyncpg.Connection, wallet: str, *, now: dt.datetime, offline_after_s: int) -> ProviderStats:
    wallet = wallet.lower()
    row = await conn.fetchrow(
        """SELECT count(*) AS nodes_total,
                  count(*) FILTER (WHERE status = 'online' AND last_seen > $2) AS nodes_online
           FROM far_nodes WHERE wallet_address = $1""",
        wallet, now - dt.timedelta(seconds=offline_after_s),
    )
    money = await conn.fetchrow(
        """SELECT count(DISTINCT c.session_id) AS sessions, coalesce(sum(c.tokens_contributed), 0) AS tokens,
                  coalesce(sum(c.block_tokens), 0) AS block_tokens, coalesce(sum(c.payment_far), 0) AS earned,
                  coalesce(sum(c.payment_far) FILTER (WHERE c.paid_at IS NOT NULL), 0) AS paid,
                  coalesce(sum(c.payment_far) FILTER (WHERE c.paid_at IS NULL), 0) AS unpaid,
                  max(c.paid_at) AS last_paid
           FROM far_session_contributions c JOIN far_nodes n ON n.id = c.node_id
           WHERE n.wallet_address = $1""",
        wallet,
    )
    return ProviderStats(
        wallet_address=wallet, nodes_total=row["nodes_total"], nodes_online=row["nodes_online"],
        sessions=money["sessions"], tokens_contributed=money["tokens"], block_tokens=money["block_tokens"],
        total_earned_far=money["earned"], paid_far=money["paid"], unpaid_far=money["unpaid"],
        last_payment_at=money["last_paid"],
    )


async def earnings(conn: asyncpg.Connection, wallet: str, *, now: dt.datetime, days: int) -> ProviderEarnings:
    wallet = wallet.lower()
    first_day = (now - dt.timedelta(days=days - 1)).date()
    rows = await conn.fetch(
        """SELECT (c.created_at AT TIME ZONE 'UTC')::date AS day, sum(c.payment_far) AS far,
                  sum(c.tokens_contributed) AS tokens
           FROM far_session_contributions c JOIN far_nodes n ON n.id = c.node_id
           WHERE n.wallet_address = $1 AND c.created_at >= $2
           GROUP BY day""",
        wallet, dt.datetime.combine(first_day, dt.time(), tzinfo=dt.UTC),
    )
    by_day = {r["day"]: r for r in rows}
    daily = []
    for i in range(days):
        day = first_day + dt.timedelta(days=i)
        r = by_day.get(day)
        daily.append(DailyEarning(date=day, far=r["far"] if r else 0, tokens=r["tokens"] if r else 0))
    nodes = await conn.fetch(
        """SELECT node_id, node_name, tokens_contributed AS tokens, total_earned_far AS earned, paid_far AS paid,
                  unpaid_far AS unpaid
           FROM node_earnings_summary WHERE wallet_address = $1 ORDER BY node_name""",
        wallet,
    )
    by_node = [NodeEarning(node_id=r["node_id"], node_name=r["node_name"], tokens=r["tokens"], earned_far=r["earned"],
                           paid_far=r["paid"], unpaid_far=r["unpaid"]) for r in nodes]
    return ProviderEarnings(
        wallet_address=wallet, days=days, daily=daily, by_node=by_node,
        paid_far=sum((n.paid_far for n in by_node), start=0), unpaid_far=sum((n.unpaid_far for n in by_node), start=0),
    )


async def payments(conn: asyncpg.Connection, wallet: str) -> ProviderPayments:
    rows = await conn.fetch(
        """SELECT b.id AS batch_id, coalesce(b.confirmed_at, b.created_at) AS date, r.amount_far, b.status,
                  b.network, b.chain_id, b.tx_hash, b.block_number
           FROM far_payment_recipients r JOIN far_payment_batches b ON b.id = r.batch_id
           WHERE r.wallet_address = $1 ORDER BY b.created_at DESC""",
        wallet.lower(),
    )
    payments = [Payment(**r, tx_url=tx_url(r["chain_id"], r["tx_hash"])) for r in rows]
    return ProviderPayments(wallet_address=wallet.lower(), payments=payments)


async def nodes(conn: asyncpg.Connection, wallet: str, *, now: dt.datetime, offline_after_s: int) -> ProviderNodes:
    rows = await conn.fetch(
        """SELECT id AS node_id, node_name, model_id, start_block, end_block, mode, peer_id, region, gateway_url,
                  last_seen, online_since, tokens_served, hardware,
                  CASE WHEN status = 'online' AND last_seen > $2 THEN 'online' ELSE 'offline' END AS status
           FROM far_nodes WHERE wallet_address = $1 ORDER BY node_name""",
        wallet.lower(), now - dt.timedelta(seconds=offline_after_s),
    )
    result = []
    for r in rows:
        uptime = int((now - r["online_since"]).total_seconds()) if r["status"] == "online" else 0
        result.append(ProviderNode(uptime_s=max(uptime, 0), **dict(r)))
    return ProviderNodes(wallet_address=wallet.lower(), nodes=result)
