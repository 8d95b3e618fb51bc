"""The payment tracker: plan a week's payouts, pay them on chain, and finish whatever a crash left open.

One run, under a PostgreSQL advisory lock (one replica at a time):
1. finish the open batches of earlier runs (the chain's record first, then the saved transactions);
2. plan this period once per chain: unpaid contributions up to the cutoff, grouped by wallet, wallets under
   the minimum carried over; the plan is saved and its contributions reserved before anything is signed;
3. pay each batch: dry-run it, sign, save hash + raw bytes + nonce, broadcast, wait for confirmations,
   then mark the batch confirmed and its contributions paid in one transaction.

Money is never paid twice because the payout contract refuses a batch id it has already paid, and a batch
keeps its id (and its reserved contributions) through every retry. A new transaction is signed only when
the previous one reverted or its nonce was provably taken by another transaction.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any, Literal

import anyio
import asyncpg
from web3.exceptions import ProviderConnectionError, TimeExhausted

from ..db import payouts as db_payouts
from ..db.payouts import BatchRow
from .amounts import wei_to_far
from .chain import ChainError, ConfirmationTimeout, Fees, PayoutChain, TxLookup, TxStatus, replacement_fees
from .metrics import PayoutMetrics
from .planner import DEFAULT_MAX_TX_GAS, DEFAULT_MINIMUM_FAR, PayoutPlan, plan_payouts

log = logging.getLogger(__name__)

Step = Literal["after_plan", "after_sign", "after_broadcast", "after_confirm", "before_mark_paid", "after_mark_paid"]
Hook = Callable[[Step, BatchRow | None], None]
NOT_CONFIRMED = "not confirmed in time: "  # a batch's note; still pending at the next run -> replaced
MAX_SIGNINGS_PER_RUN = 2  # a batch that reverts is signed again once per run; later runs keep retrying


class PayoutBusy(RuntimeError):
    """Another payout run holds the lock (another replica, the CLI, or the admin API)."""


@dataclass(frozen=True)
class TrackerConfig:
    """How a tracker pays: on which network, above which minimum, how deep a transaction must be."""

    network: str = "local"
    minimum_far: Decimal = DEFAULT_MINIMUM_FAR
    confirmations: int = 1
    confirmation_timeout_s: float = 600.0
    poll_interval_s: float = 1.0
    max_tx_gas: int = DEFAULT_MAX_TX_GAS


@dataclass
class BatchOutcome:
    """Where one batch stands at the end of a run."""

    batch_key: str
    status: str
    recipients: int
    total_wei: int
    tx_hash: str | None = None
    block_number: int | None = None
    error: str | None = None


@dataclass
class RunReport:
    """What one run did (or, for a dry run, would do)."""

    period_start: date
    cutoff: datetime
    dry_run: bool
    run_id: uuid.UUID | None = None
    plan: PayoutPlan | None = None
    planned_earlier: bool = False  # this period was planned by an earlier run; only open batches were finished
    batches: list[BatchOutcome] = field(default_factory=list)

    @property
    def confirmed(self) -> list[BatchOutcome]:
        return [b for b in self.batches if b.status == "confirmed"]

    @property
    def unfinished(self) -> list[BatchOutcome]:
        return [b for b in self.batches if b.status != "confirmed"]


def period_start_of(moment: datetime) -> date:
    """The Monday (UTC) of the week `moment` falls in: payouts are weekly, Monday 00:00 UTC."""
    day = moment.astimezone(UTC).date()
    return day - timedelta(days=day.weekday())


async def preview(conn: asyncpg.Connection, *, cutoff: datetime, chain_id: int, config: TrackerConfig) -> RunReport:
    """The plan a run at `cutoff` would make, touching nothing (the dry run)."""
    period = period_start_of(cutoff)
    report = RunReport(period_start=period, cutoff=cutoff, dry_run=True)
    report.planned_earlier = await db_payouts.period_plan_run(conn, config.network, chain_id, period) is not None
    if not report.planned_earlier:
        report.plan = _plan(await db_payouts.unpaid_contributions(conn, cutoff), period, chain_id, config)
    return report


def _plan(contributions: list[Any], period: date, chain_id: int, config: TrackerConfig) -> PayoutPlan:
    return plan_payouts(contributions, period_start=period, chain_id=chain_id, minimum_far=config.minimum_far,
                        max_tx_gas=config.max_tx_gas)


class PayoutTracker:
    """Runs payouts for one network against one connected chain."""

    def __init__(
        self,
        pool: asyncpg.Pool,
        chain: PayoutChain,
        *,
        chain_instance: str,
        config: TrackerConfig,
        metrics: PayoutMetrics | None = None,
        clock: Callable[[], datetime] | None = None,
        hook: Hook | None = None,
        secrets: tuple[str, ...] = (),
    ) -> None:
        """`secrets`: text never to record or log (the RPC URL's path and credentials), scrubbed from chain errors."""
        self.pool = pool
        self.chain = chain
        self.chain_instance = chain_instance
        self.config = config
        self.metrics = metrics
        self.clock = clock or (lambda: datetime.now(UTC))
        self.hook = hook
        self.secrets = tuple(sorted((x for x in secrets if x), key=len, reverse=True))

    async def run(self, *, trigger: str = "cli", as_of: datetime | None = None) -> RunReport:
        """One payout run; raises PayoutBusy if another run holds the lock."""
        cutoff = as_of or self.clock()
        report = RunReport(period_start=period_start_of(cutoff), cutoff=cutoff, dry_run=False)
        async with self.pool.acquire() as lock_conn:
            if not await db_payouts.try_payout_lock(lock_conn):
                self._count_run("busy")
                raise PayoutBusy("another payout run is in progress")
            try:
                await self._locked_run(report, trigger)
            finally:
                await db_payouts.release_payout_lock(lock_conn)
                await self._refresh_gauges()
        return report

    async def _locked_run(self, report: RunReport, trigger: str) -> None:
        network, chain_id = self.config.network, self.chain.chain_id
        async with self.pool.acquire() as conn:
            await db_payouts.interrupt_stale_runs(conn, self.clock())
            report.run_id = await db_payouts.start_run(conn, network=network, chain_id=chain_id, period_start=report.period_start,
                                                  cutoff=report.cutoff, trigger=trigger, now=self.clock())
        try:
            async with self.pool.acquire() as conn:
                report.planned_earlier = await db_payouts.period_plan_run(conn, network, chain_id, report.period_start) is not None
                if not report.planned_earlier:
                    report.plan = _plan(await db_payouts.unpaid_contributions(conn, report.cutoff), report.period_start,
                                        chain_id, self.config)
                    await db_payouts.save_plan(conn, report.run_id, report.plan, network=network,
                                          chain_instance=self.chain_instance, payout_address=self.chain.payout.address,
                                          now=self.clock())
            self._step("after_plan", None)
            async with self.pool.acquire() as conn:
                open_batches = await db_payouts.open_batches(conn, network)
            for batch in open_batches:
                report.batches.append(await self._settle(batch))
        except BaseException as error:  # a crash of this process would leave 'running'; the next run says 'interrupted'
            with anyio.CancelScope(shield=True):
                await self._finish(report, "failed", f"{type(error).__name__}: {error}")
            raise
        unfinished = report.unfinished
        summary = "; ".join(f"{b.batch_key[:10]}…: {b.error or b.status}" for b in unfinished) or None
        await self._finish(report, "failed" if unfinished else "completed", summary)

    async def _finish(self, report: RunReport, status: str, error: str | None) -> None:
        confirmed = report.confirmed
        assert report.run_id is not None
        async with self.pool.acquire() as conn:
            await db_payouts.finish_run(conn, report.run_id, status=status, now=self.clock(), error=error,
                                   providers_paid=sum(b.recipients for b in confirmed),
                                   paid_wei=sum(b.total_wei for b in confirmed), batches_confirmed=len(confirmed))
        self._count_run(status)
        if status == "completed" and self.metrics is not None:
            self.metrics.last_success.set(self.clock().timestamp())
        if status == "failed" and self.metrics is not None:
            self.metrics.failures.labels("run").inc()

    # ------------------------------------------------------------------ one batch
    async def _settle(self, batch: BatchRow) -> BatchOutcome:
        """Bring one open batch as far as it goes: confirmed, or failed/broadcast with the reason recorded."""
        try:
            if batch.chain_instance != self.chain_instance or batch.payout_address != self.chain.payout.address:
                batch = await self._moved_chain(batch)
            signings = 0
            while True:
                paid_block = await self._chain(self.chain.batch_paid_at_block, batch.batch_id)
                if paid_block is not None:  # the contract's own record comes first
                    return await self._confirm_paid(batch)
                if batch.status in ("signed", "broadcast"):
                    seen = await self._chain(self.chain.lookup, batch.tx_hash)
                    if seen.status is TxStatus.UNKNOWN:
                        seen = await self._resend_or_release(batch)
                    elif seen.status is TxStatus.PENDING and (batch.error or "").startswith(NOT_CONFIRMED):
                        batch = await self._replace_stuck(batch)  # pending since an earlier run: same nonce, higher fees
                    if seen.status is not TxStatus.UNKNOWN:  # sent: wait for it
                        outcome, batch = await self._follow(batch)
                        if outcome is not None:
                            return outcome
                        if batch.status != "failed":  # mined: the loop reads the contract's record again
                            continue
                if signings >= MAX_SIGNINGS_PER_RUN:
                    return self._outcome(batch, "failed", error=batch.error)
                signings += 1
                refused = await self._chain(self.chain.simulate_batch, batch.batch_id, list(batch.recipients),
                                            list(batch.amounts_wei), gas=batch.gas_limit)
                if refused is not None:
                    if "BatchAlreadyPaid" in refused:
                        continue  # paid meanwhile: the loop reads the contract's record again
                    return await self._fail(batch, "simulation", f"the batch would revert: {refused}")
                batch = await self._sign_and_send(batch)
        except ChainError as error:
            return await self._note(batch, "chain", f"chain error: {error}")

    async def _resend_or_release(self, batch: BatchRow) -> TxLookup:
        """A saved transaction the node does not know: resend the same bytes, unless its nonce is taken."""
        assert batch.tx_hash is not None and batch.raw_tx is not None and batch.nonce is not None
        # Asked of a block as deep as a confirmation, so a reorg cannot give the nonce back afterwards.
        latest = int(await self._chain(lambda: self.chain.w3.eth.block_number))
        deep_block = max(latest - self.config.confirmations + 1, 0)
        if await self._chain(self.chain.mined_nonce, deep_block) > batch.nonce:
            # Its nonce is used by another transaction and the contract has no record: it can never land.
            async with self.pool.acquire() as conn:
                await db_payouts.set_tx_status(conn, batch.tx_hash, "lost", self.clock(),
                                          error="never mined; its nonce was used by another transaction")
            return TxLookup(batch.tx_hash, TxStatus.UNKNOWN)
        await self._chain(self.chain.broadcast, batch.raw_tx)
        async with self.pool.acquire() as conn:
            await db_payouts.record_broadcast(conn, batch.id, batch.tx_hash, self.clock())
        return TxLookup(batch.tx_hash, TxStatus.PENDING)

    async def _replace_stuck(self, batch: BatchRow) -> BatchRow:
        """Replace a transaction stuck in the mempool by one with the same nonce and fees at least 15 % higher.

        Only one of the two can land (same nonce); whichever does pays the batch once, and the contract record
        plus the saved transactions tell which.
        """
        async with self.pool.acquire() as conn:
            [latest, *_] = await db_payouts.transactions(conn, batch.id)
        old = Fees(**{name: int(value) for name, value in latest.fees.items()})
        fees = replacement_fees(old, await self._chain(self.chain.current_fees))
        log.warning("replacing a stuck payout transaction", extra={"batch": batch.batch_key, "tx_hash": batch.tx_hash,
                                                                   "nonce": batch.nonce})
        return await self._sign_and_send(batch, nonce=batch.nonce, fees=fees)

    async def _sign_and_send(self, batch: BatchRow, *, nonce: int | None = None, fees: Fees | None = None) -> BatchRow:
        gas = batch.gas_limit
        assert gas is not None
        signed = await self._chain(lambda: self.chain.sign_batch(
            batch.batch_id, list(batch.recipients), list(batch.amounts_wei), gas=gas, nonce=nonce, fees=fees))
        async with self.pool.acquire() as conn:
            await db_payouts.record_signed(conn, batch, signed, self.clock())
            batch = await db_payouts.load_batch(conn, batch.id)
        self._step("after_sign", batch)
        try:
            await self._chain(self.chain.broadcast, signed)
        except ChainError as error:
            # Not sent (or not accepted): the saved transaction is resent or released on the next pass.
            if self.metrics is not None:
                self.metrics.failures.labels("broadcast").inc()
            async with self.pool.acquire() as conn:
                await db_payouts.record_note(conn, batch.id, str(error), self.clock())
            raise
        async with self.pool.acquire() as conn:
            await db_payouts.record_broadcast(conn, batch.id, signed.tx_hash, self.clock())
            batch = await db_payouts.load_batch(conn, batch.id)
        self._step("after_broadcast", batch)
        return batch

    async def _follow(self, batch: BatchRow) -> tuple[BatchOutcome | None, BatchRow]:
        """Wait for the batch's sent transaction. An outcome if the batch is done for this run; else the batch,
        'failed' when it reverted (sign again) or as it was when it was mined (read the contract's record)."""
        assert batch.tx_hash is not None
        try:
            seen = await self._wait(batch.tx_hash)
        except ConfirmationTimeout as timeout:
            return await self._note(batch, "confirmation_timeout", f"{NOT_CONFIRMED}{timeout}"), batch
        if seen.status is TxStatus.MINED:
            if await self._chain(self.chain.batch_paid_at_block, batch.batch_id) is None:
                # A successful payBatch always records its id; not seeing it means the node's view moved (a reorg).
                return await self._note(batch, "chain", f"{batch.tx_hash} is mined but the batch is not recorded paid"), batch
            return None, batch
        if self.metrics is not None:
            self.metrics.failures.labels("reverted").inc()
        log.warning("payout transaction reverted", extra={"batch": batch.batch_key, "tx_hash": batch.tx_hash,
                                                          "reason": seen.error})
        async with self.pool.acquire() as conn:
            await db_payouts.set_tx_status(conn, batch.tx_hash, "reverted", self.clock(), block_number=seen.block_number,
                                      gas_used=seen.gas_used, error=seen.error)
            await db_payouts.record_failed(conn, batch.id, f"transaction {batch.tx_hash} reverted: {seen.error}", self.clock())
            return None, await db_payouts.load_batch(conn, batch.id)

    async def _confirm_paid(self, batch: BatchRow) -> BatchOutcome:
        """The contract says the batch is paid: find our transaction that paid it, wait, mark everything paid."""
        async with self.pool.acquire() as conn:
            txs = await db_payouts.transactions(conn, batch.id)
        for tx in txs:
            seen = await self._chain(self.chain.lookup, tx.tx_hash)
            if seen.status in (TxStatus.MINED, TxStatus.PENDING):
                try:
                    seen = await self._wait(tx.tx_hash)
                except ConfirmationTimeout as timeout:
                    return await self._note(batch, "confirmation_timeout", f"{NOT_CONFIRMED}{timeout}")
            if seen.status is TxStatus.MINED:
                assert seen.block_number is not None
                self._step("after_confirm", batch)
                async with self.pool.acquire() as conn:
                    marked = await db_payouts.mark_paid(conn, batch, tx_hash=tx.tx_hash, block_number=seen.block_number,
                                                   gas_used=seen.gas_used, now=self.clock(),
                                                   before_commit=lambda: self._step("before_mark_paid", batch))
                self._step("after_mark_paid", batch)
                if self.metrics is not None:
                    self.metrics.far_paid.inc(float(wei_to_far(batch.total_wei)))
                    self.metrics.providers_paid.inc(batch.recipient_count)
                log.info("payout batch confirmed", extra={"batch": batch.batch_key, "tx_hash": tx.tx_hash,
                                                          "block": seen.block_number, "contributions": marked})
                return self._outcome(batch, "confirmed", tx_hash=tx.tx_hash, block_number=seen.block_number)
        # Only the payer can pay a batch, and every transaction it signs is saved first: this means a bug or a leaked key.
        return await self._fail(batch, "chain", "the contract records this batch as paid by a transaction this "
                                                "database does not know; check the payer key")

    async def _moved_chain(self, batch: BatchRow) -> BatchRow:
        """An open batch of another chain instance or contract: re-plan it on this one (local) or refuse (real networks)."""
        if self.config.network != "local":
            raise ChainError(f"batch {batch.batch_key} is open on another chain or payout contract "
                             f"({batch.payout_address}); finish it there before switching")
        async with self.pool.acquire() as conn:
            await db_payouts.reset_for_new_chain(conn, batch, chain_instance=self.chain_instance,
                                            payout_address=self.chain.payout.address, now=self.clock())
            return await db_payouts.load_batch(conn, batch.id)

    # ------------------------------------------------------------------ helpers
    async def _wait(self, tx_hash: str) -> TxLookup:
        config = self.config
        seen: TxLookup = await self._chain(lambda: self.chain.wait_for_confirmations(
            tx_hash, config.confirmations, timeout_s=config.confirmation_timeout_s,
            poll_interval_s=config.poll_interval_s))
        return seen

    async def _fail(self, batch: BatchRow, reason: str, error: str) -> BatchOutcome:
        if self.metrics is not None:
            self.metrics.failures.labels(reason).inc()
        log.error("payout batch failed", extra={"batch": batch.batch_key, "reason": reason, "error": error})
        async with self.pool.acquire() as conn:
            await db_payouts.record_failed(conn, batch.id, error, self.clock())
        return self._outcome(batch, "failed", error=error)

    async def _note(self, batch: BatchRow, reason: str, error: str, *, status: str | None = None) -> BatchOutcome:
        if self.metrics is not None:
            self.metrics.failures.labels(reason).inc()
        log.warning("payout batch still open", extra={"batch": batch.batch_key, "reason": reason, "error": error})
        async with self.pool.acquire() as conn:
            await db_payouts.record_note(conn, batch.id, error, self.clock())
            current = await db_payouts.load_batch(conn, batch.id)
        return self._outcome(current, status or current.status, error=error)

    @staticmethod
    def _outcome(batch: BatchRow, status: str, *, tx_hash: str | None = None, block_number: int | None = None,
                 error: str | None = None) -> BatchOutcome:
        return BatchOutcome(batch.batch_key, status, batch.recipient_count, batch.total_wei,
                            tx_hash or batch.tx_hash, block_number, error)

    async def _chain(self, function: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """Call the synchronous chain client in a worker thread; transport errors become ChainError.

        A transport error's text names the RPC URL, which often carries an API key, so only its type is kept.
        """
        try:
            return await anyio.to_thread.run_sync(lambda: function(*args, **kwargs))
        except ConfirmationTimeout:
            raise
        except ChainError as error:  # its text may quote a transport error, URL included
            raise ChainError(self._scrub(str(error))) from None
        except (OSError, ProviderConnectionError, TimeExhausted) as error:
            raise ChainError(f"the chain node did not answer ({type(error).__name__})") from None

    def _scrub(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "…")
        return text

    def _step(self, step: Step, batch: BatchRow | None) -> None:
        if self.hook is not None:
            self.hook(step, batch)

    def _count_run(self, result: str) -> None:
        if self.metrics is not None:
            self.metrics.runs.labels(result).inc()

    async def _refresh_gauges(self) -> None:
        if self.metrics is not None:
            async with self.pool.acquire() as conn:
                self.metrics.set_batch_counts(await db_payouts.status_counts(conn))
