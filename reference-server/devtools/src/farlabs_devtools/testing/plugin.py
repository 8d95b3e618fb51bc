"""The pytest plugin (entry point `pytest11`, so any suite run in .venv has these fixtures; a suite's own
conftest.py may override any of them).

Over a real (embedded) PostgreSQL: one server per test session, one fresh database per test.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from eth_account import Account
from starlette.testclient import TestClient

from farlabs_server.app import create_app
from farlabs_server.settings import Settings

from .client import make_key
from .clock import FakeClock
from .live import LiveServer, serve_in_thread
from .postgres import PgServer, new_api_key
from .registration import NodeIdentity


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A private PostgreSQL with a migrated template database to clone per test."""
    server = PgServer()
    yield server
    server.stop()


@pytest.fixture
def database_url(pg_server: PgServer) -> str:
    """A fresh, migrated database for this test."""
    return pg_server.new_database()


@pytest.fixture
async def conn(database_url: str) -> AsyncIterator[asyncpg.Connection]:
    connection = await asyncpg.connect(database_url)
    yield connection
    await connection.close()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    # The weekly payout schedule stays off: a test must not start paying because it ran at Monday 00:00 UTC.
    return Settings(postgres_url=database_url, data_dir=tmp_path / "data", secret_key="test-secret-" + "x" * 32,
                    rate_limit_rpm=10_000, payout_schedule_enabled=False)


@pytest.fixture
def client(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    """The app in process, on `settings` and the fake `clock`."""
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as test_client:
        yield test_client


@pytest.fixture
def app_key(client: TestClient) -> str:
    return make_key(client)


@pytest.fixture
def admin_key(client: TestClient) -> str:
    return make_key(client, role="admin")


@pytest.fixture
def identity() -> NodeIdentity:
    return NodeIdentity(wallet=Account.create(), node=Account.create())


@pytest.fixture
def live_settings(settings: Settings) -> Settings:
    """`settings` for a live server that synthetic gateways serve (override it to change one)."""
    return settings.model_copy(update={"min_swarm_nodes": 1, "idle_timeout_s": 2.0, "first_token_timeout_s": 5.0,
                                       "sse_keepalive_s": 0.2})


@pytest.fixture
def live(live_settings: Settings) -> Iterator[LiveServer]:
    """The app under uvicorn on a loopback port (real clock)."""
    app = create_app(live_settings)
    url, stop = serve_in_thread(app)
    yield LiveServer(url=url, app=app)
    stop()


@pytest.fixture
def key(live: LiveServer, database_url: str) -> str:
    """An app API key on the live server's database."""
    return new_api_key(database_url)
