"""Numbered `.sql` migrations, applied in order under a PostgreSQL advisory lock.

Two servers starting against one empty database must not race: the first takes the lock and migrates,
the second waits for it, then finds nothing left to do.
"""

from __future__ import annotations

import logging
import re
from importlib import resources

import asyncpg

log = logging.getLogger(__name__)

# Any constant unique to this application; held only for the duration of the migration transaction.
MIGRATION_LOCK_ID = 0x4641524D455348  # "FARMESH"
_NAME = re.compile(r"^(\d{3})_[a-z0-9_]+\.sql$")


def available_migrations() -> list[tuple[int, str, str]]:
    """(version, file name, SQL) for every migration shipped with the package, in order."""
    folder = resources.files("farlabs_server.db") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append((int(match.group(1)), entry.name, entry.read_text(encoding="utf-8")))
    found.sort()
    versions = [v for v, _, _ in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration numbers: {versions}")
    return found


async def apply_migrations(conn: asyncpg.Connection) -> list[str]:
    """Apply every migration not yet recorded; return the names applied (empty when up to date)."""
    applied: list[str] = []
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock($1)", MIGRATION_LOCK_ID)
        await conn.execute(
            """CREATE TABLE IF NOT EXISTS far_schema_migrations (
                   version INTEGER PRIMARY KEY,
                   name TEXT NOT NULL,
                   applied_at TIMESTAMPTZ NOT NULL DEFAULT now())"""
        )
        done = {row["version"] for row in await conn.fetch("SELECT version FROM far_schema_migrations")}
        for version, name, sql in available_migrations():
            if version in done:
                continue
            await conn.execute(sql)
            await conn.execute("INSERT INTO far_schema_migrations (version, name) VALUES ($1, $2)", version, name)
            applied.append(name)
            log.info("applied migration", extra={"migration": name})
    return applied


async def schema_version(conn: asyncpg.Connection) -> int | None:
    """The newest migration applied (None on a database never migrated)."""
    version: int | None = await conn.fetchval("SELECT max(version) FROM far_schema_migrations")
    return version
