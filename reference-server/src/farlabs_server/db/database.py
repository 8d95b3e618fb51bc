"""The database handle the app holds: a pool, and the embedded server when there is one."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

import anyio
import asyncpg

from ..settings import Settings
from .embedded import EmbeddedPostgres
from .migrate import apply_migrations

log = logging.getLogger(__name__)


async def _init_connection(conn: asyncpg.Connection) -> None:
    # JSONB in and out as Python objects.
    await conn.set_type_codec("jsonb", encoder=json.dumps, decoder=json.loads, schema="pg_catalog")


class PooledConnection(asyncpg.Connection):  # type: ignore[misc]  # asyncpg ships no stubs
    """A pool connection that knows whether it holds session state, and so whether its release needs a reset.

    asyncpg's default release sends `pg_advisory_unlock_all(); CLOSE ALL; UNLISTEN *; RESET ALL` every time: one
    round trip (~0.13 ms here), twice before a stream's first token and once per heartbeat. Our code keeps
    state to its transactions (SET LOCAL, transaction-scoped advisory locks, no cursors WITH HOLD, no LISTEN),
    and asyncpg itself rolls back a transaction left open and drops listeners on every release. The one
    exception, the payout run's session-level advisory lock, calls `hold_session_state()` first, and its
    connection gets the full reset when released.
    """

    __slots__ = ("_holds_session_state",)

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)
        self._holds_session_state = False

    def hold_session_state(self) -> None:
        self._holds_session_state = True


async def _reset_on_release(conn: PooledConnection) -> None:
    # asyncpg has already rolled back any open transaction (Connection._reset) before calling this.
    if conn._holds_session_state:
        await conn.execute(conn.get_reset_query())
        conn._holds_session_state = False


# What a statement raises when PostgreSQL drops its connection (stopped, restarting, crashed) while it runs.
# InternalClientError ("cannot switch to state …") is what asyncpg raises on a pooled connection whose server
# shut it down while it sat idle, before the pool noticed.
CONNECTION_LOST = (asyncpg.PostgresConnectionError, asyncpg.AdminShutdownError, asyncpg.CrashShutdownError,
                   asyncpg.CannotConnectNowError, asyncpg.InternalClientError)


def connection_was_lost(error: BaseException) -> bool:
    """Whether this error (or one it arose from) is PostgreSQL going away. asyncpg's InterfaceError says
    "the underlying connection is closed" when a transaction ends on a connection the server dropped."""
    seen: BaseException | None = error
    while seen is not None:
        if isinstance(seen, CONNECTION_LOST) or (
                isinstance(seen, asyncpg.InterfaceError) and "connection is closed" in str(seen)):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class DatabaseUnavailable(Exception):
    """PostgreSQL cannot be reached right now (down, restarting, refusing connections): worth retrying shortly.
    The API answers it with a 503 (errors.database_unavailable())."""


async def _connect(*args: object, **kwargs: object) -> asyncpg.Connection:
    """The pool's way to open a connection: a database that is down (no socket, refused, starting up) is
    DatabaseUnavailable, and the pool opens a fresh connection on the next acquire once it is back."""
    try:
        return await asyncpg.connect(*args, **kwargs)
    except (OSError, *CONNECTION_LOST) as exc:
        raise DatabaseUnavailable() from exc


# The custom setting far_node_offline_after() reads (migration 009): "online" follows this server's heartbeat setting.
OFFLINE_AFTER_SETTING = "farlabs.node_offline_after_s"


async def create_pool(dsn: str, *, min_size: int, max_size: int, node_offline_after_s: int = 90) -> asyncpg.Pool:
    """The one way this server pools connections: JSONB codec, outage-aware connect, reset only when needed,
    and the node offline window (Settings.offline_after_s) set on every connection for the SQL that uses it."""
    pool = await asyncpg.create_pool(dsn, min_size=min_size, max_size=max_size, init=_init_connection,
                                     connect=_connect, reset=_reset_on_release, connection_class=PooledConnection,
                                     server_settings={OFFLINE_AFTER_SETTING: str(node_offline_after_s)})
    assert pool is not None
    return pool


@dataclass
class Database:
    pool: asyncpg.Pool
    dsn: str
    embedded: EmbeddedPostgres | None = None

    async def close(self) -> None:
        await self.pool.close()
        if self.embedded is not None:
            # Stopping waits for the server; keep it off the event loop.
            await anyio.to_thread.run_sync(self.embedded.stop)


async def resolve_dsn(settings: Settings) -> tuple[str, EmbeddedPostgres | None]:
    """The configured URL, or a freshly started embedded PostgreSQL's."""
    if settings.postgres_url is not None:
        return settings.postgres_url.get_secret_value(), None
    embedded = await anyio.to_thread.run_sync(EmbeddedPostgres, settings.data_dir)
    return embedded.dsn(), embedded


async def open_database(settings: Settings, *, migrate: bool = True) -> Database:
    """Connect (starting the embedded server if needed) and bring the schema up to date."""
    dsn, embedded = await resolve_dsn(settings)
    try:
        if migrate:
            conn = await asyncpg.connect(dsn)
            try:
                await apply_migrations(conn)
            finally:
                await conn.close()
        pool = await create_pool(dsn, min_size=settings.db_pool_min, max_size=settings.db_pool_max,
                                 node_offline_after_s=settings.offline_after_s)
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise
    return Database(pool=pool, dsn=dsn, embedded=embedded)


async def ping(conn: asyncpg.Connection, *, timeout_s: float | None = None) -> None:
    """A round trip to PostgreSQL (readiness)."""
    await conn.fetchval("SELECT 1", timeout=timeout_s)
