"""Accounts and API keys (stored as SHA-256 hashes), wallet sign-ins already used, and the server secret."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

import asyncpg

from . import ratelimits


@dataclass(frozen=True)
class ApiKeyRow:
    id: uuid.UUID
    account_id: uuid.UUID
    account_name: str
    name: str
    key_prefix: str
    role: str
    rate_limit_rpm: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


_SELECT = """
SELECT k.id, k.account_id, a.name AS account_name, k.name, k.key_prefix, k.role, k.rate_limit_rpm,
       k.created_at, k.last_used_at, k.revoked_at
FROM far_api_keys k JOIN far_accounts a ON a.id = k.account_id
"""


def _row(record: asyncpg.Record | None) -> ApiKeyRow | None:
    return ApiKeyRow(**dict(record)) if record else None


async def insert_key(conn: asyncpg.Connection, *, account_name: str, name: str, key_prefix: str, key_hash: str,
                     role: str, rate_limit_rpm: int | None) -> ApiKeyRow:
    """A key under a new account of its own."""
    async with conn.transaction():
        account_id = await conn.fetchval("INSERT INTO far_accounts (name) VALUES ($1) RETURNING id", account_name)
        key_id = await conn.fetchval(
            """INSERT INTO far_api_keys (account_id, name, key_prefix, key_hash, role, rate_limit_rpm)
               VALUES ($1, $2, $3, $4, $5, $6) RETURNING id""",
            account_id, name, key_prefix, key_hash, role, rate_limit_rpm,
        )
        row = _row(await conn.fetchrow(_SELECT + " WHERE k.id = $1", key_id))
    assert row is not None
    return row


async def list_keys(conn: asyncpg.Connection, *, include_revoked: bool) -> list[ApiKeyRow]:
    where = "" if include_revoked else " WHERE k.revoked_at IS NULL"
    return [ApiKeyRow(**dict(r)) for r in await conn.fetch(_SELECT + where + " ORDER BY k.created_at")]


async def revoke_key(conn: asyncpg.Connection, key_id: uuid.UUID | None, key_prefix: str) -> ApiKeyRow | None:
    """Revoke the key with this id or displayed prefix (revoking twice keeps the first time); None if unknown."""
    revoked = await conn.fetchval(
        """UPDATE far_api_keys SET revoked_at = coalesce(revoked_at, now())
           WHERE id = $1 OR key_prefix = $2 RETURNING id""",
        key_id, key_prefix,
    )
    return None if revoked is None else _row(await conn.fetchrow(_SELECT + " WHERE k.id = $1", revoked))


# The key, and a note that it was used (at most one write per key per minute), in one round trip.
_USE = """
WITH live_key AS (""" + _SELECT + """ WHERE k.key_hash = $1 AND k.revoked_at IS NULL),
touched AS (
    UPDATE far_api_keys SET last_used_at = now()
    WHERE id = (SELECT id FROM live_key) AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')
)
SELECT * FROM live_key
"""


async def use_live_key(conn: asyncpg.Connection, key_hash: str) -> ApiKeyRow | None:
    """The unrevoked key with this hash, stamping `last_used_at` once a minute."""
    return _row(await conn.fetchrow(_USE, key_hash))


# The same, spending one request of the key's rate-limit bucket (db/ratelimits.py) in the same round trip: the
# first-token path of every request authenticates, so the shared limit costs it no extra trip.
_USE_WITHIN_LIMIT = """
WITH live_key AS (""" + _SELECT + """ WHERE k.key_hash = $1 AND k.revoked_at IS NULL),
touched AS (
    UPDATE far_api_keys SET last_used_at = now()
    WHERE id = (SELECT id FROM live_key) AND (last_used_at IS NULL OR last_used_at < now() - interval '60 seconds')
),
spent AS (""" + ratelimits.spend("SELECT id::text AS bucket, coalesce(rate_limit_rpm, $2)::float8 AS cap FROM live_key") + """)
SELECT live_key.*, EXISTS (SELECT 1 FROM spent) AS spent,
       (SELECT """ + ratelimits.refilled("coalesce(live_key.rate_limit_rpm, $2)::float8") + """
          FROM far_rate_buckets b WHERE b.bucket = live_key.id::text) AS tokens_before
FROM live_key
"""


async def use_live_key_within_limit(conn: asyncpg.Connection, key_hash: str,
                                    default_rpm: int) -> tuple[ApiKeyRow | None, float | None]:
    """`use_live_key`, and one request spent from the key's bucket (its own limit, else `default_rpm`):
    (key, None) when spent, (key, seconds to wait) when the limit is reached, (None, None) for no live key."""
    record = await conn.fetchrow(_USE_WITHIN_LIMIT, key_hash, default_rpm)
    if record is None:
        return None, None
    fields = dict(record)
    spent, tokens_before = fields.pop("spent"), fields.pop("tokens_before")
    key = ApiKeyRow(**fields)
    return key, ratelimits.wait_s(spent, tokens_before, key.rate_limit_rpm or default_rpm)


async def live_key_by_id(conn: asyncpg.Connection, key_id: uuid.UUID) -> ApiKeyRow | None:
    return _row(await conn.fetchrow(_SELECT + " WHERE k.id = $1 AND k.revoked_at IS NULL", key_id))


async def lock_admin_bootstrap(conn: asyncpg.Connection) -> None:
    """Serialize admin-key bootstrapping across replicas until the caller's transaction ends."""
    await conn.execute("SELECT pg_advisory_xact_lock(hashtext('far_admin_bootstrap'))")


async def key_hash_exists(conn: asyncpg.Connection, key_hash: str) -> bool:
    return await conn.fetchval("SELECT 1 FROM far_api_keys WHERE key_hash = $1", key_hash) is not None


async def any_admin_key(conn: asyncpg.Connection) -> bool:
    return await conn.fetchval("SELECT 1 FROM far_api_keys WHERE role = 'admin' LIMIT 1") is not None


async def claim_wallet_signin(conn: asyncpg.Connection, signature_hash: str, wallet: str, *, now: datetime,
                              forget_before: datetime) -> bool:
    """Record a sign-in signature as used; False when it already was. Older ones (expired anyway) are dropped."""
    used = await conn.fetchval(
        """INSERT INTO far_wallet_signins (signature_hash, wallet_address, seen_at) VALUES ($1, $2, $3)
           ON CONFLICT DO NOTHING RETURNING 1""",
        signature_hash, wallet, now,
    )
    if used is None:
        return False
    await conn.execute("DELETE FROM far_wallet_signins WHERE seen_at < $1", forget_before)
    return True


async def server_secret(conn: asyncpg.Connection, candidate: str) -> str:
    """The secret shared by every replica on this database: `candidate` if none was stored yet."""
    await conn.execute(
        "INSERT INTO far_server_secrets (name, value) VALUES ('secret_key', $1) ON CONFLICT (name) DO NOTHING",
        candidate,
    )
    value: str = await conn.fetchval("SELECT value FROM far_server_secrets WHERE name = 'secret_key'")
    return value
