"""PostgreSQL for tests: a private embedded server holding a migrated template, a fresh database cloned from
it per test (~20 ms), and `sql()` to run one statement from synchronous test code."""

from __future__ import annotations

import itertools
import os
import shutil
import tempfile
from pathlib import Path

import anyio
import asyncpg

from farlabs_server.auth import keys
from farlabs_server.db.embedded import EmbeddedPostgres
from farlabs_server.db.migrate import apply_migrations

TEMPLATE = "far_template"
_database_numbers = itertools.count()


class PgServer:
    """A private embedded PostgreSQL with a migrated template database; `stop()` removes its files too."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="farlabs-test-pg-"))
        self.embedded = EmbeddedPostgres(self.root)
        try:
            anyio.run(self._make_template)
        except BaseException:
            self.stop()
            raise

    def dsn(self, database: str) -> str:
        return self.embedded.dsn(database)

    async def _make_template(self) -> None:
        conn = await asyncpg.connect(self.dsn("postgres"))
        await conn.execute(f"CREATE DATABASE {TEMPLATE}")
        await conn.close()
        conn = await asyncpg.connect(self.dsn(TEMPLATE))
        await apply_migrations(conn)
        await conn.close()

    def new_database(self) -> str:
        """A fresh, migrated database (a copy of the template); returns its DSN."""
        name = f"t_{os.getpid()}_{next(_database_numbers)}"
        sql(self.dsn("postgres"), f'CREATE DATABASE "{name}" TEMPLATE {TEMPLATE}')
        return self.dsn(name)

    def stop(self) -> None:
        self.embedded.stop()
        shutil.rmtree(self.root, ignore_errors=True)  # a session's databases reach gigabytes: never leave them behind


def sql(dsn: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Run one statement on its own connection, from synchronous test code."""

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return anyio.run(run)


def new_api_key(dsn: str, *, role: keys.Role = "app", rate_limit_rpm: int | None = None) -> str:
    """Create an API key straight in the database at `dsn`; returns its secret."""

    async def run() -> str:
        conn = await asyncpg.connect(dsn)
        try:
            secret, _ = await keys.create_key(conn, f"test-{role}", role=role, rate_limit_rpm=rate_limit_rpm)
            return secret
        finally:
            await conn.close()

    return anyio.run(run)
