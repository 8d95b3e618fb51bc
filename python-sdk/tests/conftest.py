from __future__ import annotations

from collections.abc import Iterator

import pytest
import respx

from farlabs import _base_client

from .helpers import BASE_URL


@pytest.fixture(params=["asyncio", "trio"])
def anyio_backend(request: pytest.FixtureRequest) -> str:
    """Every async test runs under both asyncio and trio."""
    return str(request.param)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FARLABS_API_KEY", raising=False)
    monkeypatch.delenv("FARLABS_BASE_URL", raising=False)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Record retry delays instead of waiting them out."""
    recorded: list[float] = []

    def fake_sleep(self: object, seconds: float) -> None:
        recorded.append(seconds)

    async def fake_async_sleep(self: object, seconds: float) -> None:
        recorded.append(seconds)

    monkeypatch.setattr(_base_client.SyncAPIClient, "sleep", fake_sleep)
    monkeypatch.setattr(_base_client.AsyncAPIClient, "sleep", fake_async_sleep)
    return recorded


@pytest.fixture
def mock() -> Iterator[respx.MockRouter]:
    """respx router on the default base URL; any unmocked request fails the test."""
    with respx.mock(base_url=BASE_URL, assert_all_called=False) as router:
        yield router
