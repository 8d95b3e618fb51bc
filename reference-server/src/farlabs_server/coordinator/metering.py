"""Exact money for one session: cost, platform fee, and each node's share by block-tokens.

A node that computed blocks [s, e) for n tokens did n x (e - s) block-tokens of work; the nodes split
(cost - fee) in proportion. Every amount is a Decimal with 18 decimals (the token's), rounded down,
and the rounding remainder goes to the largest contributor, so the shares add up to the last wei.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

WEI = Decimal("1e-18")


def cost_of(tokens: int, price_per_token_far: Decimal) -> Decimal:
    return (price_per_token_far * tokens).quantize(WEI, rounding=ROUND_DOWN)


def fee_of(cost: Decimal, fee_percent: Decimal) -> Decimal:
    return (cost * fee_percent / 100).quantize(WEI, rounding=ROUND_DOWN)


def display(amount: Decimal) -> str:
    """A FAR amount as a short exact string: 0.000200000000000000 → "0.0002", 0 → "0"."""
    text = format(amount.normalize(), "f")
    return text if "." not in text else text.rstrip("0").rstrip(".") or "0"


@dataclass(frozen=True)
class Work:
    """Blocks [start_block, end_block) computed by one node for `tokens` tokens."""

    node_id: uuid.UUID
    start_block: int
    end_block: int
    tokens: int

    @property
    def block_tokens(self) -> int:
        return self.tokens * (self.end_block - self.start_block)


@dataclass(frozen=True)
class Share:
    work: Work
    payment_far: Decimal


def merge(work: list[Work]) -> list[Work]:
    """One entry per (node, span): a resumed session may credit the same span twice."""
    merged: dict[tuple[uuid.UUID, int, int], int] = {}
    for w in work:
        key = (w.node_id, w.start_block, w.end_block)
        merged[key] = merged.get(key, 0) + w.tokens
    return [Work(n, s, e, t) for (n, s, e), t in merged.items() if t > 0]


def split(pool: Decimal, work: list[Work]) -> list[Share]:
    """Divide `pool` by block-tokens; the shares sum exactly to `pool` (empty when there is no work)."""
    work = merge(work)
    total = sum(w.block_tokens for w in work)
    if total == 0 or pool == 0:
        return [Share(w, Decimal(0)) for w in work]
    shares = [(pool * w.block_tokens / total).quantize(WEI, rounding=ROUND_DOWN) for w in work]
    largest = max(range(len(work)), key=lambda i: work[i].block_tokens)
    shares[largest] += pool - sum(shares)
    return [Share(w, s) for w, s in zip(work, shares, strict=True)]
