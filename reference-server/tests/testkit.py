"""Helpers for the server tests (fixtures live in conftest.py; tests import helpers from here, never from
conftest, whose module name other test folders share)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import asyncpg
import httpx
from eth_account import Account
from starlette.testclient import TestClient

from farlabs_protocol import authorization_message, registration_message, sign_text
from farlabs_server.auth import keys
from farlabs_server.db.embedded import EmbeddedPostgres

if TYPE_CHECKING:
    from synthetic_gateway import SyntheticGateway


@dataclass
class PgServer:
    embedded: EmbeddedPostgres

    def dsn(self, database: str) -> str:
        return self.embedded.dsn(database)


class FakeClock:
    """Time that moves only when a test says so."""

    def __init__(self) -> None:
        self.now = datetime.now(UTC).replace(microsecond=0)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


def make_key(client: TestClient, *, role: keys.Role = "app", rate_limit_rpm: int | None = None) -> str:
    """Create an API key straight in the app's database."""
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    async def create() -> str:
        async with ctx.db.pool.acquire() as conn:
            secret, _ = await keys.create_key(conn, f"test-{role}", role=role, rate_limit_rpm=rate_limit_rpm)
        return secret

    return client.portal.call(create)  # type: ignore[union-attr]


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
        body["authorization"] = sign_text(
            self.wallet.key, authorization_message(self.wallet.address, self.node.address)
        )
        body["signature"] = sign_text(self.node.key, registration_message(body))
        return body


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


def sql(dsn: str, query: str, *args: object) -> list[asyncpg.Record]:
    """Run one statement on its own connection, from synchronous test code (also the cross-package and
    reliability suites', through tests/conftest.py)."""
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
