"""API keys: create (shown once), list, revoke, verify. Stored as SHA-256 hashes."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import asyncpg

from ..db import keys as db_keys
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


def _record(row: db_keys.ApiKeyRow) -> ApiKeyRecord:
    return ApiKeyRecord(**vars(row))


async def create_key(
    conn: asyncpg.Connection, name: str, *, role: Role = "app", account_name: str | None = None,
    rate_limit_rpm: int | None = None, secret: str | None = None,
) -> tuple[str, ApiKeyRecord]:
    """Make a key (or store the given one) under a new account; return the plaintext key and its record."""
    key = secret or new_secret(API_KEY_PREFIX)
    row = await db_keys.insert_key(conn, account_name=account_name or name, name=name, key_prefix=display_prefix(key),
                                   key_hash=hash_secret(key), role=role, rate_limit_rpm=rate_limit_rpm)
    return key, _record(row)


async def list_keys(conn: asyncpg.Connection, *, include_revoked: bool = False) -> list[ApiKeyRecord]:
    return [_record(r) for r in await db_keys.list_keys(conn, include_revoked=include_revoked)]


async def revoke_key(conn: asyncpg.Connection, key_id_or_prefix: str) -> ApiKeyRecord:
    """Revoke by id or by the displayed prefix (`fl_XXXXXXXX`); revoking twice is harmless."""
    try:
        key_id: uuid.UUID | None = uuid.UUID(key_id_or_prefix)
    except ValueError:
        key_id = None
    row = await db_keys.revoke_key(conn, key_id, key_id_or_prefix)
    if row is None:
        raise NotFound(f"No API key {key_id_or_prefix!r}.", code="api_key_not_found")
    return _record(row)


async def use_active_key(conn: asyncpg.Connection, key: str) -> ApiKeyRecord | None:
    """The live key with this plaintext, or None (unknown or revoked); stamps `last_used_at` once a minute."""
    row = await db_keys.use_live_key(conn, hash_secret(key))
    return _record(row) if row else None


async def use_active_key_within_limit(conn: asyncpg.Connection, key: str,
                                      default_rpm: int) -> tuple[ApiKeyRecord | None, float | None]:
    """`use_active_key`, spending one request of the key's shared rate limit in the same round trip: (key,
    None), (key, seconds to wait) when over its limit, or (None, None)."""
    row, wait_s = await db_keys.use_live_key_within_limit(conn, hash_secret(key), default_rpm)
    return (_record(row) if row else None), wait_s


async def find_active_key_by_id(conn: asyncpg.Connection, key_id: uuid.UUID) -> ApiKeyRecord | None:
    """The key with this id unless it is revoked (a JWT minted from a key lives only as long as the key)."""
    row = await db_keys.live_key_by_id(conn, key_id)
    return _record(row) if row else None


async def ensure_admin_key(conn: asyncpg.Connection, key: str) -> None:
    """Make sure this admin key exists (for FARLABS_ADMIN_KEY); idempotent across restarts and replicas."""
    async with conn.transaction():
        await db_keys.lock_admin_bootstrap(conn)
        if not await db_keys.key_hash_exists(conn, hash_secret(key)):
            await create_key(conn, "admin", role="admin", secret=key)


async def bootstrap_first_admin(conn: asyncpg.Connection) -> str | None:
    """On a database with no admin key at all, make one and return it (once); otherwise None."""
    async with conn.transaction():
        await db_keys.lock_admin_bootstrap(conn)
        if await db_keys.any_admin_key(conn):
            return None
        key, _ = await create_key(conn, "admin", role="admin")
        return key
