"""Request limits shared by every replica: one token bucket per key, kept in PostgreSQL (migration 011).

Time is PostgreSQL's (`now()`), not a replica's, so replicas with skewed clocks still agree on refills.
"""

from __future__ import annotations

import asyncpg

# One statement, one round trip. The upsert spends a token only when one is there; whatever the outcome, the
# outer SELECT reads the bucket as it was before this statement (a CTE's snapshot), which on a refusal is what
# the wait until the next token is computed from.
_TAKE = """
WITH taken AS (
    INSERT INTO far_rate_buckets AS b (bucket, tokens, updated_at) VALUES ($1, $2::float8 - 1, now())
    ON CONFLICT (bucket) DO UPDATE
        SET tokens = LEAST($2::float8, b.tokens + extract(epoch FROM now() - b.updated_at) * $2 / 60.0) - 1,
            updated_at = now()
        WHERE LEAST($2::float8, b.tokens + extract(epoch FROM now() - b.updated_at) * $2 / 60.0) >= 1
    RETURNING 1
)
SELECT EXISTS (SELECT 1 FROM taken) AS allowed,
       (SELECT LEAST($2::float8, tokens + extract(epoch FROM now() - updated_at) * $2 / 60.0)
          FROM far_rate_buckets WHERE bucket = $1) AS tokens_before
"""


async def take_token(conn: asyncpg.Connection | asyncpg.Pool, bucket: str, requests_per_minute: int) -> float | None:
    """Spend one request of `bucket` (capacity and refill: `requests_per_minute`). None when it was spent; else
    the seconds until the bucket holds a whole token again."""
    row = await conn.fetchrow(_TAKE, bucket, requests_per_minute)
    if row["allowed"]:
        return None
    missing = 1.0 - float(row["tokens_before"] or 0.0)
    return max(missing, 0.0) * 60.0 / requests_per_minute


async def forget_idle_buckets(conn: asyncpg.Connection | asyncpg.Pool, idle_s: int) -> int:
    """Drop buckets untouched for `idle_s` (longer than a full refill, so they are full anyway: nothing changes)."""
    done: str = await conn.execute(
        "DELETE FROM far_rate_buckets WHERE updated_at < now() - make_interval(secs => $1)", idle_s)
    return int(done.split()[-1])
