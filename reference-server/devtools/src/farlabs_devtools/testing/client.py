"""Helpers over the in-process app (`starlette.testclient.TestClient`, the `client` fixture)."""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

from farlabs_server.auth import keys

from .clock import FakeClock
from .registration import NodeIdentity


def make_key(client: TestClient, *, role: keys.Role = "app", rate_limit_rpm: int | None = None) -> str:
    """Create an API key straight in the app's database; returns its secret."""
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    async def create() -> str:
        async with ctx.db.pool.acquire() as conn:
            secret, _ = await keys.create_key(conn, f"test-{role}", role=role, rate_limit_rpm=rate_limit_rpm)
        return secret

    assert client.portal is not None, "use the client inside `with TestClient(...)`"
    return client.portal.call(create)


def auth(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def register(client: TestClient, identity: NodeIdentity, clock: FakeClock, **overrides: object) -> dict[str, object]:
    response = client.post("/nodes/register", json=identity.registration(clock, **overrides))
    assert response.status_code == 201, response.text
    result: dict[str, object] = response.json()
    return result


def assert_error(response: Any, status: int, type_: str, code: str | None = None) -> dict[str, object]:
    """The response (httpx's or the test client's) is the error envelope with this status, type (and code)."""
    assert response.status_code == status, response.text
    error: dict[str, object] = response.json()["error"]
    assert error["type"] == type_, error
    assert error["request_id"] and isinstance(error["message"], str)
    if code is not None:
        assert error["code"] == code, error
    return error
