"""Many replicas on one PostgreSQL acting as one server: each holds a lease it renews, and on every tick one of
them (whichever takes the advisory lock) runs the shared upkeep.

The upkeep closes sessions left open by a replica whose lease ran out (killed mid-stream: their request ids
would otherwise stay "in flight" forever, and a client's retry could never run) and drops rate-limit buckets
idle long enough to be full. Node expiry needs no job: "online" is read from `last_seen` at query time.
The payout run has its own lock (payouts/scheduler.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import uuid

from .db import Database, DatabaseUnavailable, connection_was_lost
from .db import ratelimits as db_ratelimits
from .db import replicas as db_replicas

log = logging.getLogger(__name__)


class ReplicaLease:
    """Renews this replica's lease every `lease_s / 3` and runs the upkeep when its turn comes."""

    def __init__(self, db: Database, *, lease_s: float, replica_id: uuid.UUID | None = None) -> None:
        self.db = db
        self.lease_s = lease_s
        self.id = replica_id or uuid.uuid4()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Take the lease before the first request (sessions name their replica) and start renewing it."""
        await db_replicas.renew_lease(self.db.pool, self.id, host=socket.gethostname(), pid=os.getpid())
        self._task = asyncio.create_task(self._loop(), name="farlabs-replica-lease")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        with contextlib.suppress(Exception):  # best effort: an unrenewed lease runs out by itself
            await db_replicas.end_lease(self.db.pool, self.id)

    async def tick(self) -> list[str]:
        """Renew; then, if it is this replica's turn, the upkeep. Returns the request ids of sessions closed."""
        await db_replicas.renew_lease(self.db.pool, self.id, host=socket.gethostname(), pid=os.getpid())
        async with self.db.pool.acquire() as conn, conn.transaction():
            if not await db_replicas.take_maintenance_turn(conn):
                return []
            orphaned = await db_replicas.close_orphaned_sessions(conn, lease_s=self.lease_s)
            await db_ratelimits.forget_idle_buckets(conn, idle_s=120)
            await db_replicas.forget_replicas(conn, older_than_s=86_400)
        if orphaned:
            log.warning("closed sessions left open by a replica that is gone", extra={"request_ids": orphaned})
        return orphaned

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.lease_s / 3)
            try:
                await self.tick()
            except Exception as error:
                if not (isinstance(error, DatabaseUnavailable) or connection_was_lost(error)):
                    log.exception("replica upkeep failed")
                # A database outage: the next tick tries again.
