"""`farlabs-server payouts run|status`: the payout tracker from the command line."""

from __future__ import annotations

import sys
from decimal import Decimal

import asyncpg

from ..db import open_database
from ..db import payouts as db_payouts
from ..settings import Settings
from . import admin
from .amounts import format_far
from .chain import ChainError
from .keys import PayerKeyError
from .planner import PlanError
from .report import report_lines
from .runtime import PayoutConfigError
from .service import PayoutService
from .tracker import PayoutBusy


async def payouts_command(settings: Settings, command: str, *, dry_run: bool = False, network: str | None = None,
                          minimum_far: Decimal | None = None) -> int:
    """Run the command against the configured database; the exit status is 0 when everything due was paid."""
    db = await open_database(settings)
    try:
        service = PayoutService(settings, db.pool)
        if command == "status":
            async with db.pool.acquire() as conn:
                await print_status(conn, minimum_far or settings.payout_minimum_far)
            return 0
        if dry_run:
            report = await service.dry_run(network=network, minimum_far=minimum_far)
        else:
            report = await service.run(network=network, trigger="cli", minimum_far=minimum_far)
        for line in report_lines(report):
            print(line, flush=True)
        return 1 if report.unfinished else 0
    except PayoutBusy:
        print("error: a payout run is already in progress (another replica or command); try again later", file=sys.stderr)
        return 1
    except (PayoutConfigError, PayerKeyError, ChainError, PlanError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    finally:
        await db.close()


async def print_status(conn: asyncpg.Connection, minimum_far: Decimal) -> None:
    """What is owed and not yet in a batch (what the next plan considers), and the latest batches and runs."""
    owed = await db_payouts.owed_by_wallet(conn)
    total = sum(owed.values(), Decimal(0))
    due = sum(1 for amount in owed.values() if amount >= minimum_far)
    print(f"Unpaid: {len(owed)} wallet(s) owed {format_far(total)} FAR; {due} at or above the "
          f"{format_far(minimum_far)} FAR minimum")
    batches = (await admin.list_batches(conn, status=None, limit=20)).batches
    print(f"Batches (latest {len(batches)}):" if batches else "Batches: none yet")
    for b in batches:
        where = f"tx {b.tx_hash} block {b.block_number}" if b.block_number else (b.tx_hash or "not signed")
        note = f"  ({b.error})" if b.error and b.status != "confirmed" else ""
        print(f"  {b.period_start}  {b.network:7}  {b.status:9}  {b.recipient_count:4} recipient(s)  "
              f"{format_far(b.total_far)} FAR  {where}{note}")
    runs = (await admin.list_runs(conn, limit=5)).runs
    for r in runs:
        print(f"Run {r.started_at:%Y-%m-%d %H:%M} UTC  {r.trigger:8}  {r.status:11}  week of {r.period_start}  "
              f"paid {format_far(r.paid_far)} FAR to {r.providers_paid}" + (f"  ({r.error})" if r.error else ""))
