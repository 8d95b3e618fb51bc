"""Fixtures over a real (embedded) PostgreSQL: one server per test session, one fresh database per test."""

from __future__ import annotations

import itertools
import shutil
import tempfile
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import asyncpg
import pytest
from eth_account import Account
from starlette.testclient import TestClient
from testkit import FakeClock, LiveServer, NodeIdentity, PgServer, make_key, new_api_key, serve_in_thread

from farlabs_server.app import create_app
from farlabs_server.db.embedded import EmbeddedPostgres
from farlabs_server.db.migrate import apply_migrations
from farlabs_server.settings import Settings

_counter = itertools.count()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A private PostgreSQL with a migrated template database to clone per test."""
    import anyio

    root = Path(tempfile.mkdtemp(prefix="farlabs-test-pg-"))
    embedded = EmbeddedPostgres(root)
    server = PgServer(embedded)

    async def prepare() -> None:
        conn = await asyncpg.connect(server.dsn("postgres"))
        await conn.execute("CREATE DATABASE far_template")
        await conn.close()
        conn = await asyncpg.connect(server.dsn("far_template"))
        await apply_migrations(conn)
        await conn.close()

    anyio.run(prepare)
    yield server
    embedded.stop()
    shutil.rmtree(root, ignore_errors=True)  # a session's databases reach gigabytes: never leave them behind


@pytest.fixture
def database_url(pg_server: PgServer) -> str:
    """A fresh, migrated database for this test (a copy of the template: ~20 ms)."""
    import anyio

    name = f"t_{next(_counter)}_{int(time.time() * 1000) % 100000}"

    async def clone() -> None:
        conn = await asyncpg.connect(pg_server.dsn("postgres"))
        await conn.execute(f'CREATE DATABASE "{name}" TEMPLATE far_template')
        await conn.close()

    anyio.run(clone)
    return pg_server.dsn(name)


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
    return settings.model_copy(update={"min_swarm_nodes": 1, "idle_timeout_s": 2.0, "first_token_timeout_s": 5.0,
                                       "sse_keepalive_s": 0.2})


@pytest.fixture
def live(live_settings: Settings) -> Iterator[LiveServer]:
    app = create_app(live_settings)
    url, stop = serve_in_thread(app)
    yield LiveServer(url=url, app=app)
    stop()


@pytest.fixture
def key(live: LiveServer, database_url: str) -> str:
    """An app API key on the live server's database."""
    return new_api_key(database_url)
