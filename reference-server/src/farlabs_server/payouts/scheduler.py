"""The weekly payout schedule inside the server: every Monday 00:00 UTC, on one replica.

Every replica runs this loop; at the hour each tries the payout lock (a PostgreSQL advisory lock). One
takes it and pays; the others find it busy, or find the week already planned, and do nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, time, timedelta

from .runtime import missing_settings
from .service import PayoutService
from .tracker import PayoutBusy, RunReport

log = logging.getLogger(__name__)
RETRY_AFTER_FAILURE_S = 3600.0  # a run that left batches open (or failed) is retried hourly until next Monday


def next_monday(after: datetime) -> datetime:
    """The first Monday 00:00 UTC strictly after `after`."""
    moment = after.astimezone(UTC)
    return datetime.combine(moment.date() + timedelta(days=7 - moment.weekday()), time(), tzinfo=UTC)


class PayoutScheduler:
    """The weekly loop as an asyncio task. `sleep` is injectable so tests move a clock instead of waiting."""

    def __init__(self, service: PayoutService, *, sleep: Callable[[float], Awaitable[object]] = asyncio.sleep) -> None:
        self.service = service
        self.sleep = sleep
        self.task: asyncio.Task[None] | None = None
        self.last_report: RunReport | None = None

    def start(self) -> None:
        if self.task is None:
            self.task = asyncio.create_task(self._loop(), name="farlabs-payouts")

    async def stop(self) -> None:
        """Cancel the loop; a run in progress is interrupted and finished by the next run."""
        if self.task is not None:
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
            self.task = None

    async def _loop(self) -> None:
        clock = self.service.clock
        try:
            await self.service.refresh_metrics()
        except Exception:  # metrics only; the schedule goes on
            log.exception("payouts: could not read the batch counts")
        due = next_monday(clock())
        while True:
            wait_s = (due - clock()).total_seconds()
            if wait_s > 0:
                await self.sleep(wait_s)
                continue  # woken early (or by a moved clock): measure again
            retry = await self.run_once(due)
            due = min(clock() + timedelta(seconds=RETRY_AFTER_FAILURE_S), next_monday(clock())) if retry else next_monday(clock())

    async def run_once(self, due: datetime) -> bool:
        """The run due at `due`; True if it should be retried (failed or left batches open)."""
        try:
            self.last_report = await self.service.run(trigger="schedule", as_of=due)
        except PayoutBusy:
            log.info("payouts: another replica is running them")
            return False
        except Exception:
            log.exception("payouts: the scheduled run failed")
            return True
        return bool(self.last_report.unfinished)


class Payouts:
    """What the app keeps: the service (for the admin API) and its scheduler (when enabled)."""

    def __init__(self, service: PayoutService, scheduler: PayoutScheduler | None) -> None:
        self.service = service
        self.scheduler = scheduler

    async def stop(self) -> None:
        if self.scheduler is not None:
            await self.scheduler.stop()


def start_payouts(ctx: object) -> Payouts:
    """Call from the app lifespan: `app.state.payouts = start_payouts(ctx)`; at shutdown `await app.state.payouts.stop()`.

    Nothing is connected until the first run (the local chain deploys its contracts then).
    """
    settings, db, registry, clock = ctx.settings, ctx.db, ctx.registry, ctx.clock  # type: ignore[attr-defined]
    service = PayoutService(settings, db.pool, registry=registry, clock=clock)
    scheduler = PayoutScheduler(service) if settings.payout_schedule_enabled else None
    if scheduler is not None:
        missing = missing_settings(settings, settings.payout_network)
        if missing:  # said now, not first on Monday
            log.error("payouts are scheduled but cannot run", extra={"network": settings.payout_network,
                                                                      "missing": ", ".join(missing)})
        scheduler.start()
    return Payouts(service, scheduler)
