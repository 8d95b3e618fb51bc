"""Request limits shared by every replica: one token bucket per key, kept in PostgreSQL (migration 011).

Time is PostgreSQL's (`now()`), not a replica's, so replicas with skewed clocks still agree on refills.
"""

from __future__ import annotations

import asyncpg


def refilled(cap: str, bucket: str = "b") -> str:
    """SQL: the tokens `bucket` holds now (it refills `cap` a minute, up to `cap`)."""
    return f"LEAST({cap}, {bucket}.tokens + extract(epoch FROM now() - {bucket}.updated_at) * {cap} / 60.0)"


def spend(source: str) -> str:
    """SQL for a CTE: spend one token from each bucket that `source` selects as (bucket, cap), but only where a
    whole token is there; RETURNING 1 for each spent. A new bucket starts full."""
    return f"""
    INSERT INTO far_rate_buckets AS b (bucket, tokens, updated_at)
    SELECT s.bucket, s.cap - 1, now() FROM ({source}) s
    ON CONFLICT (bucket) DO UPDATE
        SET tokens = {refilled('(EXCLUDED.tokens + 1)')} - 1, updated_at = now()
        WHERE {refilled('(EXCLUDED.tokens + 1)')} >= 1
    RETURNING 1"""


# One statement, one round trip. Whatever the outcome, the outer SELECT reads the bucket as it was before this
# statement (a CTE's snapshot), which on a refusal is what the wait until the next token is computed from.
_TAKE = f"""
WITH spent AS ({spend("SELECT $1::text AS bucket, $2::float8 AS cap")})
SELECT EXISTS (SELECT 1 FROM spent) AS spent,
       (SELECT {refilled("$2::float8")} FROM far_rate_buckets b WHERE b.bucket = $1) AS tokens_before
"""


def wait_s(spent: bool, tokens_before: float | None, requests_per_minute: int) -> float | None:
    """None when a token was spent; else the seconds until the bucket holds a whole one again."""
    if spent:
        return None
    return max(1.0 - float(tokens_before or 0.0), 0.0) * 60.0 / requests_per_minute


async def take_token(conn: asyncpg.Connection | asyncpg.Pool, bucket: str, requests_per_minute: int) -> float | None:
    """Spend one request of `bucket` (capacity and refill: `requests_per_minute`): None when spent, else the
    seconds to wait."""
    row = await conn.fetchrow(_TAKE, bucket, requests_per_minute)
    return wait_s(row["spent"], row["tokens_before"], requests_per_minute)


async def forget_idle_buckets(conn: asyncpg.Connection | asyncpg.Pool, idle_s: int) -> int:
    """Drop buckets untouched for `idle_s` (longer than a full refill, so they are full anyway: nothing changes)."""
    done: str = await conn.execute(
        "DELETE FROM far_rate_buckets WHERE updated_at < now() - make_interval(secs => $1)", idle_s)
    return int(done.split()[-1])
