"""The provider API: a wallet's stats, earnings, payments and nodes (queries in db/provider.py)."""

from __future__ import annotations

import dataclasses
import datetime as dt

import asyncpg

from ..db import provider as db_provider
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


async def stats(conn: asyncpg.Connection, wallet: str, *, now: dt.datetime) -> ProviderStats:
    wallet = wallet.lower()
    books = await db_provider.wallet_books(conn, wallet, now=now)
    return ProviderStats(
        wallet_address=wallet, nodes_total=books.nodes_total, nodes_online=books.nodes_online,
        sessions=books.sessions, tokens_contributed=books.tokens_contributed, block_tokens=books.block_tokens,
        total_earned_far=books.earned_far, paid_far=books.paid_far, unpaid_far=books.unpaid_far,
        last_payment_at=books.last_paid_at,
    )


async def earnings(conn: asyncpg.Connection, wallet: str, *, now: dt.datetime, days: int) -> ProviderEarnings:
    wallet = wallet.lower()
    first_day = (now - dt.timedelta(days=days - 1)).date()
    since = dt.datetime.combine(first_day, dt.time(), tzinfo=dt.UTC)
    by_day = {d.day: d for d in await db_provider.earnings_by_day(conn, wallet, since=since)}
    daily = []
    for i in range(days):
        day = first_day + dt.timedelta(days=i)
        d = by_day.get(day)
        daily.append(DailyEarning(date=day, far=d.far if d else 0, tokens=d.tokens if d else 0))
    by_node = [NodeEarning(**dataclasses.asdict(n)) for n in await db_provider.earnings_by_node(conn, wallet)]
    return ProviderEarnings(
        wallet_address=wallet, days=days, daily=daily, by_node=by_node,
        paid_far=sum((n.paid_far for n in by_node), start=0), unpaid_far=sum((n.unpaid_far for n in by_node), start=0),
    )


async def payments(conn: asyncpg.Connection, wallet: str) -> ProviderPayments:
    rows = await db_provider.payments(conn, wallet.lower())
    found = [Payment(**dataclasses.asdict(r), tx_url=tx_url(r.chain_id, r.tx_hash)) for r in rows]
    return ProviderPayments(wallet_address=wallet.lower(), payments=found)


async def nodes(conn: asyncpg.Connection, wallet: str, *, now: dt.datetime) -> ProviderNodes:
    result = []
    for r in await db_provider.wallet_nodes(conn, wallet.lower(), now=now):
        uptime = int((now - r.online_since).total_seconds()) if r.status == "online" else 0
        result.append(ProviderNode(uptime_s=max(uptime, 0), **dataclasses.asdict(r)))
    return ProviderNodes(wallet_address=wallet.lower(), nodes=result)
