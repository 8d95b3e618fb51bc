"""HTTP wiring of the payouts admin API: batch status, runs, and running payouts by hand (admins only)."""

from __future__ import annotations

import uuid

from ..errors import Conflict, InvalidRequestError, NotFound
from ..payouts import admin
from ..payouts.admin import BatchDetail, BatchList, RunList, RunResult
from ..payouts.runtime import PayoutConfigError
from ..payouts.scheduler import Payouts
from ..payouts.service import PayoutService
from ..payouts.tracker import PayoutBusy
from .endpoints import Call, Endpoint


def payouts_of(call: Call) -> Payouts:
    """The app's payouts (started by the lifespan); made on first use when the app runs without a schedule."""
    state = call.request.app.state
    payouts: Payouts | None = getattr(state, "payouts", None)
    if payouts is None:
        ctx = call.ctx
        payouts = Payouts(PayoutService(ctx.settings, ctx.db.pool, registry=ctx.registry, clock=ctx.clock), None)
        state.payouts = payouts
    return payouts


def _limit(call: Call) -> int:
    raw = call.request.query_params.get("limit", "50")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 500:
        raise InvalidRequestError("limit must be an integer from 1 to 500.", code="validation_error", param="limit",
                                  status=422)
    return int(raw)


async def list_batches(call: Call) -> BatchList:
    status = call.request.query_params.get("status")
    if status is not None and status not in admin.BATCH_STATUSES:
        raise InvalidRequestError(f"status must be one of {', '.join(admin.BATCH_STATUSES)}.", code="validation_error",
                                  param="status", status=422)
    async with call.ctx.db.pool.acquire() as conn:
        return await admin.list_batches(conn, status=status, limit=_limit(call))


async def get_batch(call: Call) -> BatchDetail:
    try:
        batch_id = uuid.UUID(call.path("batch_id"))
    except ValueError:
        raise NotFound("No payment batch with this id.", code="batch_not_found") from None
    async with call.ctx.db.pool.acquire() as conn:
        detail = await admin.batch_detail(conn, batch_id)
    if detail is None:
        raise NotFound("No payment batch with this id.", code="batch_not_found")
    return detail


async def list_runs(call: Call) -> RunList:
    async with call.ctx.db.pool.acquire() as conn:
        return await admin.list_runs(conn, limit=_limit(call))


async def run(call: Call) -> RunResult:
    raw = call.request.query_params.get("dry_run", "false").lower()
    if raw not in ("true", "false", "1", "0"):
        raise InvalidRequestError("dry_run must be true or false.", code="validation_error", param="dry_run", status=422)
    service = payouts_of(call).service
    try:
        if raw in ("true", "1"):
            report = await service.dry_run()
        else:
            report = await service.run(trigger="api")
    except PayoutBusy:
        raise Conflict("A payout run is already in progress; try again when it finishes.", code="payout_run_in_progress") from None
    except PayoutConfigError as error:
        raise InvalidRequestError(str(error), code="payouts_not_configured", status=409) from None
    async with call.ctx.db.pool.acquire() as conn:
        return await admin.run_result(conn, report)


ENDPOINTS = [
    Endpoint("GET", "/admin/payouts/batches", list_batches, "Payment batches, newest first", "payouts", auth="admin",
             response_model=BatchList, query={"status": "only batches in this status", "limit": "1-500, default 50"}),
    Endpoint("GET", "/admin/payouts/batches/{batch_id}", get_batch, "One batch: recipients and every transaction",
             "payouts", auth="admin", response_model=BatchDetail),
    Endpoint("GET", "/admin/payouts/runs", list_runs, "Payout runs, newest first", "payouts", auth="admin",
             response_model=RunList, query={"limit": "1-500, default 50"}),
    Endpoint("POST", "/admin/payouts/run", run, "Run payouts now (or preview with dry_run=true)", "payouts",
             auth="admin", response_model=RunResult,
             query={"dry_run": "true: only say what would be paid (default false)"}),
]
