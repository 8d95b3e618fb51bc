"""Fixtures over a real (embedded) PostgreSQL: one server per test session, one fresh database per test."""

from __future__ import annotations

import itertools
import tempfile
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
import pytest
from eth_account import Account
from starlette.testclient import TestClient

from farlabs_server.app import create_app
from farlabs_server.auth import keys
from farlabs_server.db.embedded import EmbeddedPostgres
from farlabs_server.db.migrate import apply_migrations
from farlabs_server.discovery.signatures import authorization_message, registration_message, sign_message
from farlabs_server.settings import Settings

if TYPE_CHECKING:
    from synthetic_gateway import SyntheticGateway

_counter = itertools.count()


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@dataclass
class PgServer:
    embedded: EmbeddedPostgres

    def dsn(self, database: str) -> str:
        return self.embedded.dsn(database)


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


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(postgres_url=database_url, data_dir=tmp_path / "data", secret_key="test-secret-" + "x" * 32,
                    rate_limit_rpm=10_000)


@pytest.fixture
def client(settings: Settings, clock: FakeClock) -> Iterator[TestClient]:
    with TestClient(create_app(settings, clock=clock), raise_server_exceptions=False) as test_client:
        yield test_client


def make_key(client: TestClient, *, role: keys.Role = "app", rate_limit_rpm: int | None = None) -> str:
    """Create an API key straight in the app's database."""
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    async def create() -> str:
        async with ctx.db.pool.acquire() as conn:
            secret, _ = await keys.create_key(conn, f"test-{role}", role=role, rate_limit_rpm=rate_limit_rpm)
        return secret

    return client.portal.call(create)  # type: ignore[union-attr]


@pytest.fixture
def app_key(client: TestClient) -> str:
    return make_key(client)


@pytest.fixture
def admin_key(client: TestClient) -> str:
    return make_key(client, role="admin")


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@dataclass
class NodeIdentity:
    """A provider wallet and a node key it authorized, able to sign registrations."""

    wallet: Account
    node: Account
    name: str = "node-a"

    def registration(self, clock: FakeClock, **overrides: object) -> dict[str, object]:
        body: dict[str, object] = {
            "wallet_address": self.wallet.address, "node_address": self.node.address,
            "node_name": self.name, "peer_id": "12D3KooWTestPeer" + self.name.replace("-", ""),
            "model_id": "test/tiny-llama", "start_block": 0, "end_block": 2, "total_blocks": 4,
            "mode": "swarm", "gateway_url": "http://127.0.0.1:9", "region": "eu-west",
            "hardware": {"gpu_name": "CPU", "ram_total_gb": 24.0},
            "timestamp": int(clock().timestamp()),
        }
        body.update(overrides)
        body["authorization"] = sign_message(
            self.wallet.key, authorization_message(self.wallet.address, self.node.address)
        )
        body["signature"] = sign_message(self.node.key, registration_message(
            str(body["wallet_address"]), str(body["node_address"]), str(body["node_name"]),
            body.get("peer_id"), int(body["timestamp"]),  # type: ignore[arg-type]
        ))
        return body


@pytest.fixture
def identity() -> NodeIdentity:
    return NodeIdentity(wallet=Account.create(), node=Account.create())


def register(client: TestClient, identity: NodeIdentity, clock: FakeClock, **overrides: object) -> dict[str, object]:
    response = client.post("/nodes/register", json=identity.registration(clock, **overrides))
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def assert_error(response: object, status: int, type_: str, code: str | None = None) -> dict[str, object]:
    """The response is the error envelope with this status, type (and code)."""
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    error: dict[str, object] = response.json()["error"]  # type: ignore[attr-defined]
    assert error["type"] == type_, error
    assert error["request_id"] and isinstance(error["message"], str)
    if code is not None:
        assert error["code"] == code, error
    return error


@dataclass
class LiveServer:
    """The real app under uvicorn on a loopback port (what SDKs, OpenAI clients and node agents talk to)."""

    url: str
    app: object

    @property
    def ctx(self) -> object:
        return self.app.state.ctx  # type: ignore[attr-defined]


def serve_in_thread(app: object) -> tuple[str, Callable[[], None]]:
    import socket
    import threading

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))  # type: ignore[arg-type]
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=15)

    return f"http://127.0.0.1:{port}", stop


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


def sql(dsn: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Run one statement on its own connection, from synchronous test code."""
    import anyio

    async def run() -> list[asyncpg.Record]:
        conn = await asyncpg.connect(dsn)
        try:
            return list(await conn.fetch(query, *args))
        finally:
            await conn.close()

    return anyio.run(run)


def new_api_key(dsn: str, *, role: keys.Role = "app", rate_limit_rpm: int | None = None) -> str:
    import anyio

    async def run() -> str:
        conn = await asyncpg.connect(dsn)
        try:
            secret, _ = await keys.create_key(conn, f"test-{role}", role=role, rate_limit_rpm=rate_limit_rpm)
            return secret
        finally:
            await conn.close()

    return anyio.run(run)


MODEL = "test/tiny"


@pytest.fixture
def key(live: LiveServer, database_url: str) -> str:
    """An app API key on the live server's database."""
    return new_api_key(database_url)


def add_node(live: LiveServer, name: str, gateway: SyntheticGateway | None, *, start: int = 0, end: int = 4,
             total: int = 4, mode: str = "swarm", region: str | None = None) -> dict[str, Any]:
    ident = NodeIdentity(wallet=Account.create(), node=Account.create(), name=name)
    body = ident.registration(FakeClock(), model_id=MODEL, start_block=start, end_block=end, total_blocks=total,
                              mode=mode, region=region, peer_id=f"12D3KooW{name}",
                              gateway_url=gateway.url if gateway else None)
    response = httpx.post(live.url + "/nodes/register", json=body)
    assert response.status_code == 201, response.text
    reg: dict[str, Any] = response.json()
    if gateway is not None:
        gateway.token = reg["gateway_token"]
    return reg


