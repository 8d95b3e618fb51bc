"""Replicas of the server on one database: who is alive (a lease each renews), and the jobs that must run on
exactly one of them at a time (migration 011)."""

from __future__ import annotations

import uuid

import asyncpg


async def renew_lease(conn: asyncpg.Connection | asyncpg.Pool, replica_id: uuid.UUID, *, host: str, pid: int) -> None:
    """This replica is alive now (by the database's clock, which every replica shares)."""
    await conn.execute(
        """INSERT INTO far_replicas (id, host, pid, started_at, last_seen) VALUES ($1, $2, $3, now(), now())
           ON CONFLICT (id) DO UPDATE SET last_seen = now()""",
        replica_id, host, pid,
    )


async def end_lease(conn: asyncpg.Connection | asyncpg.Pool, replica_id: uuid.UUID) -> None:
    """A clean shutdown: its unfinished sessions (none, after a graceful drain) need not wait for the lease."""
    await conn.execute("UPDATE far_replicas SET last_seen = '-infinity' WHERE id = $1", replica_id)


async def take_maintenance_turn(conn: asyncpg.Connection) -> bool:
    """Inside a transaction: whether this replica runs the shared jobs now (the others skip this tick)."""
    taken: bool = await conn.fetchval("SELECT pg_try_advisory_xact_lock(hashtext('far_maintenance'))")
    return taken


async def close_orphaned_sessions(conn: asyncpg.Connection, *, lease_s: float) -> list[str]:
    """Sessions still open on a replica whose lease ran out (killed, or cut off from the database): failed with
    error `replica_lost`, so their request ids are free again. Returns their request ids.

    Nothing was charged for them (cost and earnings are written when a session closes), and their tokens
    reached no invoice: a client's retry with the same request id regenerates and is charged once."""
    rows = await conn.fetch(
        """UPDATE far_mesh_sessions s
              SET status = 'failed', completed_at = now(), error_type = 'replica_lost'
            WHERE s.status IN ('pending', 'streaming')
              AND s.replica_id IS NOT NULL
              AND NOT EXISTS (SELECT 1 FROM far_replicas r
                               WHERE r.id = s.replica_id AND r.last_seen > now() - make_interval(secs => $1))
        RETURNING s.request_id""",
        lease_s,
    )
    return [row["request_id"] for row in rows]


async def forget_replicas(conn: asyncpg.Connection, *, older_than_s: float) -> None:
    """Leases long expired, once no open session names them."""
    await conn.execute(
        """DELETE FROM far_replicas r WHERE r.last_seen < now() - make_interval(secs => $1)
              AND NOT EXISTS (SELECT 1 FROM far_mesh_sessions s
                               WHERE s.replica_id = r.id AND s.status IN ('pending', 'streaming'))""",
        older_than_s,
    )
