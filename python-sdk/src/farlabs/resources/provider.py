"""A provider's books: `GET /provider/{wallet}/stats|earnings|payments|nodes`."""

from __future__ import annotations

import re
from typing import Any, TypeVar
from urllib.parse import quote

from pydantic import BaseModel

from .. import _constants as C
from .._base_client import AsyncAPIClient, RequestSpec, SyncAPIClient
from .._models import ProviderEarnings, ProviderNodes, ProviderPayments, ProviderStats

__all__ = ["AsyncProvider", "Provider", "check_wallet"]

_WALLET = re.compile(r"0x[0-9a-fA-F]{40}")
M = TypeVar("M", bound=BaseModel)


def check_wallet(wallet: str) -> str:
    """The wallet address, or ValueError when it is not a 0x-prefixed 20-byte hex address."""
    if not isinstance(wallet, str) or not _WALLET.fullmatch(wallet):
        raise ValueError(f"wallet must be a 0x-prefixed 40-hex-digit address, got {wallet!r}")
    return wallet


def _spec(wallet: str, what: str) -> RequestSpec:
    return RequestSpec("GET", C.PROVIDER_PATH.format(wallet=quote(wallet), what=what))


def _earnings(wallet: str, days: int | None) -> RequestSpec:
    if days is None:
        return _spec(wallet, "earnings")
    if isinstance(days, bool) or not isinstance(days, int) or not 1 <= days <= 366:
        raise ValueError(f"days must be an integer from 1 to 366, got {days!r}")
    return _spec(wallet, f"earnings?days={days}")


def _parse(model: type[M], body: Any) -> M:
    return model.model_validate(body)


class Provider:
    """`mesh.provider(wallet)`: one provider's stats, earnings, payouts and nodes."""

    def __init__(self, client: SyncAPIClient, wallet: str) -> None:
        self._client = client
        self.wallet = check_wallet(wallet)

    def stats(self) -> ProviderStats:
        """Totals: nodes, tokens served, FAR earned / paid / unpaid."""
        return _parse(ProviderStats, self._client.request_json(_spec(self.wallet, "stats")))

    def earnings(self, *, days: int | None = None) -> ProviderEarnings:
        """FAR per day over the last `days` days (server default 30, at most 366) and per node."""
        return _parse(ProviderEarnings, self._client.request_json(_earnings(self.wallet, days)))

    def payments(self) -> ProviderPayments:
        """Payouts made (or pending) to this wallet."""
        body = self._client.request_json(_spec(self.wallet, "payments"))
        return _parse(ProviderPayments, body)

    def nodes(self) -> ProviderNodes:
        """This wallet's nodes and their state."""
        return _parse(ProviderNodes, self._client.request_json(_spec(self.wallet, "nodes")))


class AsyncProvider:
    """`mesh.provider(wallet)` on the async client."""

    def __init__(self, client: AsyncAPIClient, wallet: str) -> None:
        self._client = client
        self.wallet = check_wallet(wallet)

    async def stats(self) -> ProviderStats:
        """Totals: nodes, tokens served, FAR earned / paid / unpaid."""
        return _parse(ProviderStats, await self._client.request_json(_spec(self.wallet, "stats")))

    async def earnings(self, *, days: int | None = None) -> ProviderEarnings:
        """FAR per day over the last `days` days (server default 30, at most 366) and per node."""
        body = await self._client.request_json(_earnings(self.wallet, days))
        return _parse(ProviderEarnings, body)

    async def payments(self) -> ProviderPayments:
        """Payouts made (or pending) to this wallet."""
        body = await self._client.request_json(_spec(self.wallet, "payments"))
        return _parse(ProviderPayments, body)

    async def nodes(self) -> ProviderNodes:
        """This wallet's nodes and their state."""
        body = await self._client.request_json(_spec(self.wallet, "nodes"))
        return _parse(ProviderNodes, body)
