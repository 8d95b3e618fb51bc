"""Request limits that hold across every replica: a token bucket per key (an API key, or a client address for
the public routes), refilled continuously, kept where all replicas see it.

PostgreSQL by default (db/ratelimits.py: one upsert per request). With `REDIS_URL` set, Redis instead
(one script call), which takes that write off the database for fleets whose request rate makes it matter.
"""

from __future__ import annotations

import math
from typing import Any, Protocol

import asyncpg

from ..db import ratelimits as db_ratelimits
from ..errors import Overloaded, RateLimited


class RateLimiter(Protocol):
    # True: the buckets are in PostgreSQL, and an API key's request is counted by the statement that looks the
    # key up (db/keys.py), so `check` is only for the other callers.
    counts_with_key_lookup: bool

    async def check(self, key: str, requests_per_minute: int) -> None:
        """Spend one request from `key`'s bucket, or raise RateLimited with the seconds until one is free."""

    async def aclose(self) -> None: ...


def refusal(requests_per_minute: int, wait_s: float) -> RateLimited:
    return RateLimited(f"Rate limit of {requests_per_minute} requests per minute exceeded.",
                       retry_after_s=max(1, math.ceil(wait_s)))


class PostgresRateLimiter:
    counts_with_key_lookup = True

    def __init__(self, pool: asyncpg.Pool) -> None:
        self._pool = pool

    async def check(self, key: str, requests_per_minute: int) -> None:
        wait_s = await db_ratelimits.take_token(self._pool, key, requests_per_minute)
        if wait_s is not None:
            raise refusal(requests_per_minute, wait_s)

    async def aclose(self) -> None:
        pass


# The same bucket as db/ratelimits.py, atomically in Redis, on the Redis server's clock. Returns "" when a
# token was spent, else the seconds until one is whole. An idle bucket expires once it would be full anyway.
_TAKE_LUA = """
local capacity = tonumber(ARGV[1])
local rate = capacity / 60.0
local t = redis.call('TIME')
local now = tonumber(t[1]) + tonumber(t[2]) / 1e6
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1]) or capacity
local at = tonumber(state[2]) or now
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
if tokens < 1 then
    return tostring((1 - tokens) / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens - 1), 'at', tostring(now))
redis.call('EXPIRE', KEYS[1], 61)
return ''
"""


class RedisRateLimiter:
    counts_with_key_lookup = False
    KEY_PREFIX = "farlabs:ratelimit:"

    def __init__(self, url: str) -> None:
        import redis.asyncio  # only with REDIS_URL set: the default server needs no Redis client
        import redis.exceptions

        self._errors = redis.exceptions.RedisError
        self._redis: Any = redis.asyncio.from_url(url)
        self._take = self._redis.register_script(_TAKE_LUA)

    async def check(self, key: str, requests_per_minute: int) -> None:
        try:
            wait = await self._take(keys=[self.KEY_PREFIX + key], args=[requests_per_minute])
        except self._errors as exc:  # like PostgreSQL going away: a 503 to retry, never a 500
            raise Overloaded("The rate limiter (Redis) is not reachable; try again shortly.",
                             code="rate_limiter_unavailable", headers={"Retry-After": "2"}) from exc
        if wait:
            raise refusal(requests_per_minute, float(wait))

    async def aclose(self) -> None:
        await self._redis.aclose()


def rate_limiter(pool: asyncpg.Pool, redis_url: str | None) -> RateLimiter:
    return RedisRateLimiter(redis_url) if redis_url else PostgresRateLimiter(pool)
