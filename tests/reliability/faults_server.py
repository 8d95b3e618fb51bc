"""A real `farlabs-server serve` process over an embedded PostgreSQL that the test owns, so a fault test can
stop and start the database under the running server, or load it with traffic the session servers must not see.
The session server of the fuzz and security tests (conftest.py) is one of these too.

Also the one builder of signed `POST /nodes/register` bodies that every reliability test uses.
"""

from __future__ import annotations

import importlib.util
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import ModuleType, TracebackType

import asyncpg
import httpx
from eth_account import Account
from eth_account.signers.local import LocalAccount

from conftest import sql as run_sql
from farlabs_protocol import authorization_message, registration_message, sign_text
from farlabs_server.db.embedded import EmbeddedPostgres
from farlabs_server.localmesh import free_port

BASE58 = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"  # the alphabet of libp2p peer ids


class ServerProcess:
    """Use as a context manager; `url`, `admin_key`, `secret_key`, `dsn`; `stop_database()` / `start_database()`.
    Keyword arguments are extra (or overriding) environment variables for the server."""

    def __init__(self, **env: str) -> None:
        self.work = Path(tempfile.mkdtemp(prefix="farlabs-faults-"))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.admin_key = "fl_" + secrets.token_urlsafe(32)
        self.secret_key = secrets.token_urlsafe(48)  # known here so tests can mint expired or forged-looking tokens
        self.log_path = self.work / "server.log"
        self.extra_env = env
        self.pg: EmbeddedPostgres | None = None
        self.dsn = ""
        self.proc: subprocess.Popen[bytes] | None = None

    def __enter__(self) -> ServerProcess:
        try:
            self.start_database()
            env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "POSTGRES_URL")}
            env.update({
                "POSTGRES_URL": self.dsn, "FARLABS_DATA_DIR": str(self.work / "data"),
                "FARLABS_ADMIN_KEY": self.admin_key, "FARLABS_SECRET_KEY": self.secret_key,
                "FARLABS_PAYOUT_SCHEDULE_ENABLED": "false", "FARLABS_RATE_LIMIT_RPM": "1000000",
                "FARLABS_PUBLIC_RATE_LIMIT_RPM": "1000000", "LOG_LEVEL": "WARNING",
                **self.extra_env,
            })
            with self.log_path.open("wb") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "farlabs_server.cli", "serve", "--port", str(self.port)],
                    env=env, stdout=log, stderr=subprocess.STDOUT)
            deadline = time.monotonic() + 60
            while not self.ready():
                if self.proc.poll() is not None:
                    raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log()[-4000:]}")
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the server never became ready:\n{self.log()[-4000:]}")
                time.sleep(0.1)
        except BaseException:
            self.__exit__(None, None, None)  # `with` does not call it when __enter__ fails: no stray process
            raise
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.stop_database()
        shutil.rmtree(self.work, ignore_errors=True)

    def ready(self) -> bool:
        try:
            return httpx.get(self.url + "/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop_database(self) -> None:
        if self.pg is not None:
            self.pg.stop()
            self.pg = None

    def start_database(self) -> None:
        """Start (or restart: same data, same socket, same DSN) the embedded PostgreSQL."""
        self.pg = EmbeddedPostgres(self.work / "db")
        dsn = self.pg.dsn("postgres")
        assert not self.dsn or dsn == self.dsn, (dsn, self.dsn)
        self.dsn = dsn

    def sql(self, query: str, *args: object) -> list[asyncpg.Record]:
        """One statement on the server's database, from synchronous test code."""
        return run_sql(self.dsn, query, *args)


def load_synthetic_gateway() -> ModuleType:
    """The server tests' synthetic gateway (reference-server/tests/synthetic_gateway.py), loaded by path."""
    name = "synthetic_gateway"
    if name not in sys.modules:
        path = Path(__file__).resolve().parents[2] / "reference-server" / "tests" / "synthetic_gateway.py"
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


def registration_body(wallet: LocalAccount, node: LocalAccount, **overrides: object) -> dict[str, object]:
    """A signed node registration, as far-node makes it (the wallet authorizes the node key; the node key signs
    the body, overrides included: docs/protocol.md, "Wallet proof")."""
    body: dict[str, object] = {
        "wallet_address": wallet.address, "node_address": node.address, "node_name": "fuzz-node",
        "peer_id": "12D3KooWFuzz", "model_id": "fuzz/model", "start_block": 0, "end_block": 2, "total_blocks": 2,
        "mode": "local", "gateway_url": "http://127.0.0.1:9", "timestamp": int(time.time()),
    }
    body.update(overrides)
    body["authorization"] = sign_text(wallet.key, authorization_message(wallet.address, node.address))
    body["signature"] = sign_text(node.key, registration_message(body))
    return body


def registration(name: str, *, model_id: str, start_block: int = 0, end_block: int = 4, total_blocks: int = 4,
                 gateway_url: str | None = None) -> dict[str, object]:
    """A signed swarm-node registration body for a fresh wallet and node key, with a random libp2p peer id."""
    peer_id = "12D3KooW" + "".join(secrets.choice(BASE58) for _ in range(44))
    return registration_body(Account.create(), Account.create(), node_name=name, peer_id=peer_id, model_id=model_id,
                             start_block=start_block, end_block=end_block, total_blocks=total_blocks,
                             mode="swarm", gateway_url=gateway_url)
