"""What admins read about payouts: batches (with recipients and transactions) and runs. Models and queries."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import asyncpg
from pydantic import BaseModel, Field

from ..db import payouts as db_payouts
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


BATCH_STATUSES = ("planned", "signed", "broadcast", "confirmed", "failed", "abandoned")


async def list_batches(conn: asyncpg.Connection, *, status: str | None, limit: int) -> BatchList:
    rows = await db_payouts.batch_summaries(conn, status=status, limit=limit)
    return BatchList(batches=[BatchSummary.model_validate(r) for r in rows])


async def batch_detail(conn: asyncpg.Connection, batch_id: uuid.UUID) -> BatchDetail | None:
    found = await db_payouts.batch_detail(conn, batch_id)
    if found is None:
        return None
    return BatchDetail(**found.summary, recipients=[BatchRecipient.model_validate(r) for r in found.recipients],
                       transactions=[BatchTransaction.model_validate(t) for t in found.transactions],
                       contributions=found.contributions)


async def list_runs(conn: asyncpg.Connection, *, limit: int) -> RunList:
    runs = []
    for data in await db_payouts.runs(conn, limit=limit):
        data["paid_far"] = wei_to_far(int(data.pop("paid_wei")))
        data["carried_far"] = wei_to_far(int(data.pop("carried_wei")))
        runs.append(PayoutRun.model_validate(data))
    return RunList(runs=runs)


async def run_result(conn: asyncpg.Connection, report: RunReport) -> RunResult:
    plan = report.plan
    keys = [b.batch_key for b in report.batches]
    rows = await db_payouts.batch_summaries_by_key(conn, keys)
    by_key = {r["batch_key"]: BatchSummary.model_validate(r) for r in rows}
    return RunResult(
        dry_run=report.dry_run, period_start=report.period_start, planned_earlier=report.planned_earlier,
        providers=len(plan.payees) if plan else 0,
        total_to_pay_far=Decimal(format_far(plan.total_paid_wei)) if plan else Decimal(0),
        carried_over_far=Decimal(format_far(plan.total_carried_wei)) if plan else Decimal(0),
        lines=report_lines(report), batches=[by_key[k] for k in keys if k in by_key],
    )
