"""What admins read about payouts: batches (with recipients and transactions) and runs. Models and queries."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import asyncpg
from pydantic import BaseModel, Field

from .amounts import format_far, wei_to_far
from .report import report_lines
from .tracker import RunReport


class BatchSummary(BaseModel):
    id: uuid.UUID
    batch_key: str = Field(description="The on-chain batch id (keccak of period, chain, recipients, amounts).")
    period_start: dt.date
    network: str
    chain_id: int | None
    chunk_index: int
    status: str = Field(description="planned, signed, broadcast, confirmed, failed or abandoned.")
    total_far: Decimal
    total_wei: str = Field(description="Exact, as a decimal string (beyond JSON's safe integers).")
    recipient_count: int
    attempts: int
    nonce: int | None
    tx_hash: str | None
    block_number: int | None
    error: str | None
    created_at: dt.datetime
    updated_at: dt.datetime
    confirmed_at: dt.datetime | None


class BatchRecipient(BaseModel):
    wallet_address: str
    amount_far: Decimal
    amount_wei: str


class BatchTransaction(BaseModel):
    attempt: int
    nonce: int
    tx_hash: str
    status: str = Field(description="signed, broadcast, mined, reverted, replaced or lost.")
    block_number: int | None
    gas_used: int | None
    error: str | None
    created_at: dt.datetime


class BatchDetail(BatchSummary):
    recipients: list[BatchRecipient]
    transactions: list[BatchTransaction]
    contributions: int = Field(description="Contributions this batch reserved (paid with it once confirmed).")


class BatchList(BaseModel):
    batches: list[BatchSummary]


class PayoutRun(BaseModel):
    id: uuid.UUID
    network: str
    chain_id: int
    period_start: dt.date
    cutoff: dt.datetime
    trigger: str
    status: str
    providers_paid: int
    paid_far: Decimal
    carried_far: Decimal
    batches_planned: int
    batches_confirmed: int
    error: str | None
    started_at: dt.datetime
    finished_at: dt.datetime | None


class RunList(BaseModel):
    runs: list[PayoutRun]


class RunResult(BaseModel):
    """A run's (or a dry run's) outcome, with the lines the CLI prints."""

    dry_run: bool
    period_start: dt.date
    planned_earlier: bool
    providers: int = Field(description="Wallets paid by this run's new plan (0 when the week was planned before).")
    total_to_pay_far: Decimal
    carried_over_far: Decimal
    lines: list[str]
    batches: list[BatchSummary] = Field(default_factory=list)


_SUMMARY = """id, batch_key, period_start, network, chain_id, chunk_index, status, total_far, total_wei::text AS total_wei,
    recipient_count, attempts, nonce, tx_hash, block_number, error, created_at, updated_at, confirmed_at"""
BATCH_STATUSES = ("planned", "signed", "broadcast", "confirmed", "failed", "abandoned")


async def list_batches(conn: asyncpg.Connection, *, status: str | None, limit: int) -> BatchList:
    rows = await conn.fetch(
        f"SELECT {_SUMMARY} FROM far_payment_batches WHERE ($1::text IS NULL OR status = $1) "
        "ORDER BY created_at DESC, chunk_index LIMIT $2",
        status, limit,
    )
    return BatchList(batches=[BatchSummary.model_validate(dict(r)) for r in rows])


async def batch_detail(conn: asyncpg.Connection, batch_id: uuid.UUID) -> BatchDetail | None:
    row = await conn.fetchrow(f"SELECT {_SUMMARY} FROM far_payment_batches WHERE id = $1", batch_id)
    if row is None:
        return None
    recipients = await conn.fetch(
        "SELECT wallet_address, amount_far, amount_wei::text AS amount_wei FROM far_payment_recipients "
        "WHERE batch_id = $1 ORDER BY wallet_address", batch_id)
    txs = await conn.fetch(
        "SELECT attempt, nonce, tx_hash, status, block_number, gas_used, error, created_at FROM far_payment_transactions "
        "WHERE batch_id = $1 ORDER BY attempt", batch_id)
    contributions = await conn.fetchval(
        "SELECT count(*) FROM far_session_contributions WHERE payment_batch_id = $1", batch_id)
    return BatchDetail(**dict(row), recipients=[BatchRecipient.model_validate(dict(r)) for r in recipients],
                       transactions=[BatchTransaction.model_validate(dict(t)) for t in txs], contributions=contributions)


async def list_runs(conn: asyncpg.Connection, *, limit: int) -> RunList:
    rows = await conn.fetch(
        """SELECT id, network, chain_id, period_start, cutoff, trigger, status, providers_paid,
                  paid_wei, carried_wei, batches_planned, batches_confirmed,
                  error, started_at, finished_at
           FROM far_payout_runs ORDER BY started_at DESC LIMIT $1""",
        limit,
    )
    runs = []
    for row in rows:
        data = dict(row)
        data["paid_far"] = wei_to_far(int(data.pop("paid_wei")))
        data["carried_far"] = wei_to_far(int(data.pop("carried_wei")))
        runs.append(PayoutRun.model_validate(data))
    return RunList(runs=runs)


async def run_result(conn: asyncpg.Connection, report: RunReport) -> RunResult:
    plan = report.plan
    keys = [b.batch_key for b in report.batches]
    rows = await conn.fetch(f"SELECT {_SUMMARY} FROM far_payment_batches WHERE batch_key = ANY($1::text[])", keys)
    by_key = {r["batch_key"]: BatchSummary.model_validate(dict(r)) for r in rows}
    return RunResult(
        dry_run=report.dry_run, period_start=report.period_start, planned_earlier=report.planned_earlier,
        providers=len(plan.payees) if plan else 0,
        total_to_pay_far=Decimal(format_far(plan.total_paid_wei)) if plan else Decimal(0),
        carried_over_far=Decimal(format_far(plan.total_carried_wei)) if plan else Decimal(0),
        lines=report_lines(report), batches=[by_key[k] for k in keys if k in by_key],
    )
