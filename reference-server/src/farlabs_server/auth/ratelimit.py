"""Per-credential request limits: a token bucket per key, refilled continuously.

In-process: with N replicas behind a load balancer each enforces the limit on its own share of traffic.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import RateLimited


@dataclass
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    def __init__(self, clock: Callable[[], float] = time.monotonic, max_buckets: int = 100_000) -> None:
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._max_buckets = max_buckets

    def check(self, key: str, requests_per_minute: int) -> None:
        """Spend one request from `key`'s bucket, or raise RateLimited with the seconds until one is free."""
        now = self._clock()
        rate = requests_per_minute / 60.0
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= self._max_buckets:
                self._buckets.clear()  # bounded memory; at worst a burst is forgiven
            bucket = self._buckets[key] = _Bucket(tokens=float(requests_per_minute), updated=now)
        bucket.tokens = min(float(requests_per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            retry_after = max(1, math.ceil((1.0 - bucket.tokens) / rate))
            raise RateLimited(
                f"Rate limit of {requests_per_minute} requests per minute exceeded.", retry_after_s=retry_after
            )
        bucket.tokens -= 1.0
