"""One real server process per session for the fuzz and security tests: `farlabs-server serve` on a loopback
port, over an embedded PostgreSQL this fixture owns (so tests can count rows behind the server's back); it is
a farlabs_devtools.testing.ServerProcess, as the fault tests' own servers are.

Fixtures, plus two small helpers the security tests share; no swarm (inference finds no node to serve).
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx
import pytest
from eth_account import Account

from farlabs_devtools.testing import ServerProcess, registration_body
from farlabs_devtools.testing import sql as run_sql
from farlabs_protocol import sign_text

BROWSER_ORIGIN = "http://localhost:5173"  # the origin the server is configured to allow (the browser SDK's app)


@dataclass(frozen=True)
class RunningServer:
    url: str
    dsn: str
    admin_key: str
    secret_key: str  # known here so tests can mint expired or forged-looking tokens
    browser_origin: str
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


_BUG_MARKS = ('"unhandled error"', "Exception in ASGI application", "Fatal Python error")


@pytest.fixture(scope="session")
def server() -> Iterator[RunningServer]:
    with ServerProcess(FARLABS_CORS_ORIGINS=BROWSER_ORIGIN, FARLABS_FIRST_TOKEN_TIMEOUT_S="5") as process:
        running = RunningServer(url=process.url, dsn=process.dsn, admin_key=process.admin_key,
                                secret_key=process.secret_key, browser_origin=BROWSER_ORIGIN,
                                log_path=process.log_path)
        yield running
        # Whatever the tests sent, the process must still be up and must never have hit a bug (a 500 or a
        # crash that a test might have read as some other failure).
        assert process.alive(), f"the server died:\n{running.log()[-4000:]}"
        bugs = [line for line in running.log().splitlines() if any(mark in line for mark in _BUG_MARKS)]
        assert not bugs, "the server logged bugs:\n" + "\n".join(line[:2000] for line in bugs[:5])


@pytest.fixture(scope="session")
def sql(server: RunningServer) -> Callable[..., list[asyncpg.Record]]:
    """Run one statement on the server's database from synchronous test code."""

    return functools.partial(run_sql, server.dsn)


# Columns that change on reads (a key's last use) or by themselves (a replica renewing its lease) are left out
# of the fingerprint, and so are the rate-limit buckets: counting a refused request against its caller's limit
# is the one write a refused request must make.
_VOLATILE = {"far_api_keys": "id, account_id, name, key_prefix, key_hash, role, rate_limit_rpm, created_at, revoked_at",
             "far_replicas": "id, host, pid, started_at"}
_UNFINGERPRINTED = {"far_rate_buckets"}


@pytest.fixture(scope="session")
def db_snapshot(sql: Callable[..., list[asyncpg.Record]]) -> Callable[[], dict[str, tuple[int, str]]]:
    """(rows, digest of their content) for every table of the server's schema, to prove a refused request
    wrote nothing: no insert, no update, no delete."""

    def snapshot() -> dict[str, tuple[int, str]]:
        tables = [r["tablename"] for r in sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
                  if r["tablename"] not in _UNFINGERPRINTED]
        assert len(tables) >= 10, tables
        union = " UNION ALL ".join(
            f"SELECT '{t}' AS t, count(*) AS n, md5(coalesce(string_agg(x::text, '|' ORDER BY x::text), '')) AS d "
            f"FROM (SELECT {_VOLATILE.get(t, '*')} FROM \"{t}\") x"
            for t in tables
        )
        return {r["t"]: (r["n"], r["d"]) for r in sql(union)}

    return snapshot


def assert_envelope(response: httpx.Response, status: int, type_: str, code: str | None = None) -> None:
    """The response is the error envelope with this status and type (and code), its id in X-Request-ID."""
    assert response.status_code == status, (response.request.method, response.request.url, response.text)
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert error["type"] == type_ and error["message"], error
    assert error["request_id"] == response.headers["x-request-id"]
    if code is not None:
        assert error["code"] == code, error


# ---------------------------------------------------------------- credentials of every kind, made the real way


@dataclass(frozen=True)
class Credentials:
    admin_key: str
    app_key: str
    revoked_key: str
    provider_token: str  # a wallet's dashboard sign-in
    provider_wallet: str
    node_token: str
    gateway_token: str
    node_wallet: str


@pytest.fixture(scope="session")
def credentials(server: RunningServer) -> Credentials:
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    with httpx.Client(base_url=server.url, timeout=30) as client:
        app_key = client.post("/admin/keys", headers=admin, json={"name": "security-app"}).json()["key"]
        revoked = client.post("/admin/keys", headers=admin, json={"name": "security-revoked"}).json()
        assert client.delete(f"/admin/keys/{revoked['id']}", headers=admin).status_code == 200

        provider = Account.create()
        challenge = client.post("/auth/wallet/challenge", json={"wallet_address": provider.address}).json()
        signed_in = client.post("/auth/wallet/verify", json={
            "wallet_address": provider.address, "nonce": challenge["nonce"], "issued_at": challenge["issued_at"],
            "signature": sign_text(provider.key, challenge["message"])})
        assert signed_in.status_code == 200, signed_in.text

        wallet, node = Account.create(), Account.create()
        registered = client.post("/nodes/register", json=registration_body(wallet, node))
        assert registered.status_code == 201, registered.text
    return Credentials(
        admin_key=server.admin_key, app_key=app_key, revoked_key=revoked["key"],
        provider_token=signed_in.json()["access_token"], provider_wallet=provider.address.lower(),
        node_token=registered.json()["node_token"], gateway_token=registered.json()["gateway_token"],
        node_wallet=wallet.address.lower(),
    )
