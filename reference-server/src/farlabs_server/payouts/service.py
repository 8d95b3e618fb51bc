"""The payouts of one server process: one connected chain (opened on first use), metrics, runs and dry runs.

The scheduler, the admin API and the CLI all go through a `PayoutService`, so the in-process local chain
is the same one for all of them within a process.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal

import anyio
import asyncpg
from prometheus_client import CollectorRegistry

from ..db.payouts import status_counts
from ..settings import Settings
from . import runtime
from .metrics import PayoutMetrics
from .runtime import ChainHandle, PayoutConfigError
from .tracker import Hook, PayoutTracker, RunReport, preview

log = logging.getLogger(__name__)


class PayoutService:
    """Runs payouts for the configured network (or the one a caller names)."""

    def __init__(self, settings: Settings, pool: asyncpg.Pool, *, registry: CollectorRegistry | None = None,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.settings = settings
        self.pool = pool
        self.clock = clock or (lambda: datetime.now(UTC))
        self.metrics = PayoutMetrics(registry if registry is not None else CollectorRegistry())
        self._handles: dict[str, ChainHandle] = {}
        self._opening = anyio.Lock()

    def network(self, network: str | None = None) -> str:
        chosen = network or self.settings.payout_network
        if chosen not in ("local", "testnet", "mainnet"):
            raise PayoutConfigError(f"unknown payout network {chosen!r}; use local, testnet or mainnet")
        return chosen

    async def chain(self, network: str | None = None) -> ChainHandle:
        """The connected chain for `network`, opened (and, locally, deployed) on first use."""
        network = self.network(network)
        async with self._opening:
            handle = self._handles.get(network)
            if handle is None:
                async with self.pool.acquire() as conn:
                    known = await runtime.known_contracts(conn, self.settings, network)
                handle = await anyio.to_thread.run_sync(runtime.open_chain, self.settings, network, known)
                async with self.pool.acquire() as conn:
                    await runtime.remember_contracts(conn, handle)
                self._handles[network] = handle
                log.info("payout chain ready", extra={"network": network, "chain_id": handle.chain.chain_id,
                                                      "payout_contract": handle.chain.payout.address})
        return handle

    async def refresh_metrics(self) -> None:
        """Set the batches-by-status gauges from the database (runs do this too; a fresh process starts here)."""
        async with self.pool.acquire() as conn:
            self.metrics.set_batch_counts(await status_counts(conn))

    def attach(self, handle: ChainHandle) -> None:
        """Use an already connected chain for its network (tests, and embedding a chain you manage yourself)."""
        self._handles[handle.network] = handle

    async def run(self, *, network: str | None = None, trigger: str = "cli", as_of: datetime | None = None,
                  minimum_far: Decimal | None = None, hook: Hook | None = None) -> RunReport:
        """Pay what is due (raises PayoutBusy while another run holds the lock)."""
        network = self.network(network)
        try:
            handle = await self.chain(network)
        except Exception:
            self.metrics.failures.labels("chain").inc()
            raise
        config = runtime.tracker_config(self.settings, network)
        if minimum_far is not None:
            config = replace(config, minimum_far=minimum_far)
        tracker = PayoutTracker(self.pool, handle.chain, chain_instance=handle.instance, config=config,
                                metrics=self.metrics, clock=self.clock, hook=hook,
                                secrets=runtime.url_secrets(self.settings))
        return await tracker.run(trigger=trigger, as_of=as_of)

    async def dry_run(self, *, network: str | None = None, as_of: datetime | None = None,
                      minimum_far: Decimal | None = None) -> RunReport:
        """What a run would pay now; changes nothing and needs no key (a local dev node is asked its chain id)."""
        network = self.network(network)
        chain_id = runtime.expected_chain_id(self.settings, network)
        if chain_id is None:
            chain_id = (await self.chain(network)).chain.chain_id
        config = runtime.tracker_config(self.settings, network)
        if minimum_far is not None:
            config = replace(config, minimum_far=minimum_far)
        async with self.pool.acquire() as conn:
            return await preview(conn, cutoff=as_of or self.clock(), chain_id=chain_id, config=config)
