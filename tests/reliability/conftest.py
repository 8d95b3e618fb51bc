"""One real server process per session for the fuzz and security tests: `farlabs-server serve` on a loopback
port, over an embedded PostgreSQL this fixture owns (so tests can count rows behind the server's back).

Fixtures only; no swarm (the inference endpoints answer from an empty registry).
"""

from __future__ import annotations

import os
import secrets
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import anyio
import asyncpg
import httpx
import pytest

from farlabs_server.db.embedded import EmbeddedPostgres

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


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


@pytest.fixture(scope="session")
def server() -> Iterator[RunningServer]:
    work = Path(tempfile.mkdtemp(prefix="farlabs-reliability-"))
    pg = EmbeddedPostgres(work / "db")
    dsn = pg.dsn("postgres")
    port = _free_port()
    admin_key = "fl_" + secrets.token_urlsafe(32)
    secret_key = secrets.token_urlsafe(48)
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "POSTGRES_URL")}
    env.update({
        "POSTGRES_URL": dsn, "FARLABS_DATA_DIR": str(work / "data"), "FARLABS_ADMIN_KEY": admin_key,
        "FARLABS_SECRET_KEY": secret_key, "FARLABS_CORS_ORIGINS": BROWSER_ORIGIN,
        "FARLABS_PAYOUT_SCHEDULE_ENABLED": "false", "FARLABS_RATE_LIMIT_RPM": "1000000",
        "FARLABS_FIRST_TOKEN_TIMEOUT_S": "5", "LOG_LEVEL": "WARNING",
    })
    log_path = work / "server.log"
    with log_path.open("wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "farlabs_server.cli", "serve", "--port", str(port)],
                                env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    running = RunningServer(url=url, dsn=dsn, admin_key=admin_key, secret_key=secret_key,
                            browser_origin=BROWSER_ORIGIN, log_path=log_path)
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"the server exited with {proc.returncode}:\n{running.log()[-4000:]}")
            try:
                if httpx.get(url + "/readyz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"the server never became ready:\n{running.log()[-4000:]}")
            time.sleep(0.1)
        yield running
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        pg.stop()


@pytest.fixture(scope="session")
def sql(server: RunningServer) -> Callable[..., list[asyncpg.Record]]:
    """Run one statement on the server's database from synchronous test code."""

    def run(query: str, *args: object) -> list[asyncpg.Record]:
        async def fetch() -> list[asyncpg.Record]:
            conn = await asyncpg.connect(server.dsn)
            try:
                return list(await conn.fetch(query, *args))
            finally:
                await conn.close()

        return anyio.run(fetch)

    return run


@pytest.fixture(scope="session")
def row_counts(sql: Callable[..., list[asyncpg.Record]]) -> Callable[[], dict[str, int]]:
    """Rows in every table of the server's schema, to prove a refused request wrote nothing."""

    def counts() -> dict[str, int]:
        tables = [r["tablename"] for r in sql("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")]
        assert tables, "the server's schema has no tables"
        union = " UNION ALL ".join(f"SELECT '{t}' AS t, count(*) AS n FROM \"{t}\"" for t in tables)
        return {r["t"]: r["n"] for r in sql(union)}

    return counts
