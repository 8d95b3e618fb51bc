"""API keys: create (shown once), list, revoke, verify. Stored as SHA-256 hashes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from ..errors import NotFound
from .tokens import API_KEY_PREFIX, display_prefix, hash_secret, new_secret

Role = Literal["app", "admin"]


@dataclass(frozen=True)
class ApiKeyRecord:
    id: uuid.UUID
    account_id: uuid.UUID
    account_name: str
    name: str
    key_prefix: str
    role: Role
    rate_limit_rpm: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_SELECT = """
SELECT k.id, k.account_id, a.name AS account_name, k.name, k.key_prefix, k.role, k.rate_limit_rpm,
       k.created_at, k.last_used_at, k.revoked_at
FROM far_api_keys k JOIN far_accounts a ON a.id = k.account_id
"""


def _record(row: asyncpg.Record) -> ApiKeyRecord:
    return ApiKeyRecord(**dict(row))


async def create_key(
    conn: asyncpg.Connection, name: str, *, role: Role = "app", account_name: str | None = None,
    rate_limit_rpm: int | None = None, secret: str | None = None,
) -> tuple[str, ApiKeyRecord]:
    """Make a key (or store the given one) under a new account; return the plaintext key and its record."""
    key = secret or new_secret(API_KEY_PREFIX)
    async with conn.transaction():
        account_id = await conn.fetchval(
            "INSERT INTO far_accounts (name) VALUES ($1) RETURNING id", account_name or name
        )
        key_id = await conn.fetchval(
            """INSERT INTO far_api_keys (account_id, name, key_prefix, key_hash, role, rate_limit_rpm)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            account_id, name, display_prefix(key), hash_secret(key), role, rate_limit_rpm,
        )
        row = await conn.fetchrow(_SELECT + " WHERE k.id = $1", key_id)
    return key, _record(row)


async def list_keys(conn: asyncpg.Connection, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
    where = "" if include_revoked else " WHERE k.revoked_at IS NULL"
    return [_record(r) for r in await conn.fetch(_SELECT + where + " ORDER BY k.created_at")]


async def revoke_key(conn: asyncpg.Connection, key_id_or_prefix: str) -> ApiKeyRecord:
    """Revoke by id or by the displayed prefix (`fl_XXXXXXXX`); revoking twice is harmless."""
    try:
        key_id: uuid.UUID | None = uuid.UUID(key_id_or_prefix)
    except ValueError:
        key_id = None
    row = await conn.fetchrow(
        """UPDATE far_api_keys SET revoked_at = coalesce(revoked_at, now())
           WHERE id = $1 OR key_prefix = $2 RETURNING id""",
        key_id, key_id_or_prefix,
    )
    if row is None:
        raise NotFound(f"No API key {key_id_or_prefix!r}.", code="api_key_not_found")
    return _record(await conn.fetchrow(_SELECT + " WHERE k.id = $1", row["id"]))


# The key, and a note that it was used (at most one write per key per minute), in one round trip.
_USE = """
WITH live_key AS (""" + _SELECT + """ WHERE k.key_hash = $1 AND k.revoked_at IS NULL),
touched AS (
    UPDATE far_api_keys SET last_used_at = now()
    WHERE id = (SELECT id FROM live_key) AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')
)
SELECT * FROM live_key
"""


async def use_active_key(conn: asyncpg.Connection, key: str) -> ApiKeyRecord | None:
    """The live key with this plaintext, or None (unknown or revoked); stamps `last_used_at` once a minute."""
    row = await conn.fetchrow(_USE, hash_secret(key))
    return _record(row) if row else None


async def find_active_key_by_id(conn: asyncpg.Connection, key_id: uuid.UUID) -> ApiKeyRecord | None:
    """The key with this id unless it is revoked (a JWT minted from a key lives only as long as the key)."""
    row = await conn.fetchrow(_SELECT + " WHERE k.id = $1 AND k.revoked_at IS NULL", key_id)
    return _record(row) if row else None


async def ensure_admin_key(conn: asyncpg.Connection, key: str) -> None:
    """Make sure this admin key exists (for FARLABS_ADMIN_KEY); idempotent across restarts and replicas."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('far_admin_bootstrap'))")
        if await conn.fetchval("SELECT 1 FROM far_api_keys WHERE key_hash = $1", hash_secret(key)) is None:
            await create_key(conn, "admin", role="admin", secret=key)


async def bootstrap_first_admin(conn: asyncpg.Connection) -> str | None:
    """On a database with no admin key at all, make one and return it (once); otherwise None."""
    async with conn.transaction():
        await conn.execute("SELECT pg_advisory_xact_lock(hashtext('far_admin_bootstrap'))")
        if await conn.fetchval("SELECT 1 FROM far_api_keys WHERE role = 'admin' LIMIT 1"):
            return None
        key, _ = await create_key(conn, "admin", role="admin")
        return key
