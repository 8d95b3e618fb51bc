"""The weekly schedule: Monday 00:00 UTC, one replica per run (advisory lock + one plan per week)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import asyncpg
import pytest

from farlabs_server.db import create_pool
from farlabs_server.payouts.chain import PayoutChain
from farlabs_server.payouts.runtime import ChainHandle
from farlabs_server.payouts.scheduler import PayoutScheduler, next_monday, start_payouts
from farlabs_server.payouts.service import PayoutService
from farlabs_server.settings import Settings

from .payout_seed import paid_wei_by_wallet, provider

pytestmark = pytest.mark.anyio
SATURDAY = datetime(2026, 11, 28, 13, 0, tzinfo=UTC)
MONDAY = datetime(2026, 11, 30, tzinfo=UTC)


class Clock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, min_size=1, max_size=6)
    yield created
    await created.close()


def replica(pool: asyncpg.Pool, chain: PayoutChain, clock: Clock, tmp_path: Path) -> PayoutService:
    settings = Settings(data_dir=tmp_path, payout_schedule_enabled=False)
    service = PayoutService(settings, pool, clock=clock)
    service.attach(ChainHandle(chain, "shared-chain", "local"))  # every replica pays on the same chain
    return service


def test_next_monday() -> None:
    assert next_monday(SATURDAY) == MONDAY
    assert next_monday(MONDAY) == MONDAY + timedelta(days=7)  # strictly after
    assert next_monday(MONDAY - timedelta(microseconds=1)) == MONDAY
    assert next_monday(datetime(2026, 11, 30, 1, 0, tzinfo=UTC)) == datetime(2026, 12, 7, tzinfo=UTC)


async def test_the_loop_pays_at_monday_midnight_then_waits_a_week(
    pool: asyncpg.Pool, conn: asyncpg.Connection, chain: PayoutChain, tmp_path: Path
) -> None:
    clock = Clock(SATURDAY)
    wallet = await provider(conn, ["10.5"], SATURDAY - timedelta(days=1))
    slept: list[float] = []
    waiting_again = asyncio.Event()

    async def sleep(seconds: float) -> None:
        slept.append(seconds)
        if len(slept) == 1:
            clock.now += timedelta(seconds=seconds)  # time passes until Monday
            return
        waiting_again.set()
        await asyncio.Event().wait()  # the next week never comes in this test

    scheduler = PayoutScheduler(replica(pool, chain, clock, tmp_path), sleep=sleep)
    scheduler.start()
    with anyio.fail_after(60):
        await waiting_again.wait()
    await scheduler.stop()
    assert slept == [(MONDAY - SATURDAY).total_seconds(), 7 * 24 * 3600.0]
    report = scheduler.last_report
    assert report is not None and report.cutoff == MONDAY and [b.status for b in report.batches] == ["confirmed"]
    assert chain.token_balance(wallet) == 10_500_000_000_000_000_000
    assert await conn.fetchval("SELECT trigger FROM far_payout_runs") == "schedule"


async def test_two_replicas_at_the_same_hour_pay_once(
    pool: asyncpg.Pool, conn: asyncpg.Connection, chain: PayoutChain, tmp_path: Path
) -> None:
    clock = Clock(MONDAY)
    wallets = [await provider(conn, ["11"], SATURDAY) for _ in range(3)]
    first = PayoutScheduler(replica(pool, chain, clock, tmp_path))
    second = PayoutScheduler(replica(pool, chain, clock, tmp_path))
    retry = await asyncio.gather(first.run_once(MONDAY), second.run_once(MONDAY))
    assert retry == [False, False]
    # Whichever came second found the lock taken, or the week already planned: nothing paid twice.
    for late in (first, second):
        assert await late.run_once(MONDAY + timedelta(minutes=1)) is False
    assert [chain.token_balance(w) for w in wallets] == [11 * 10**18] * 3
    assert sum((await paid_wei_by_wallet(conn)).values()) == 33 * 10**18
    assert await conn.fetchval("SELECT count(*) FROM far_payment_batches") == 1
    assert await conn.fetchval("SELECT count(*) FROM far_payout_runs WHERE plan_saved") == 1


async def test_start_payouts_wires_a_stoppable_schedule(pool: asyncpg.Pool, tmp_path: Path) -> None:
    class Ctx:  # what the app's ServerContext carries
        settings = Settings(data_dir=tmp_path)
        db = type("Db", (), {"pool": pool})()
        registry = None
        clock = staticmethod(lambda: SATURDAY)

    payouts = start_payouts(Ctx())
    assert payouts.scheduler is not None and payouts.scheduler.task is not None and not payouts.scheduler.task.done()
    await payouts.stop()
    assert payouts.scheduler.task is None
    Ctx.settings = Settings(data_dir=tmp_path, payout_schedule_enabled=False)
    assert start_payouts(Ctx()).scheduler is None
