"""A real `farlabs-server serve` process over an embedded PostgreSQL that the test owns, so a test can stop
and start the database under the running server, count rows behind its back, or load it with traffic that
other servers must not see (the reliability suite's servers are all of this kind)."""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from types import TracebackType

import asyncpg
import httpx

from farlabs_server.db.embedded import EmbeddedPostgres

from ..ports import free_port
from .postgres import sql


class ServerProcess:
    """Use as a context manager; `url`, `admin_key`, `secret_key`, `dsn`; `stop_database()` / `start_database()`.
    Keyword arguments are extra (or overriding) environment variables for the server.

    `ServerProcess.replica_of(first, ...)` is a second server on the first one's database, with its keys: two
    replicas of one deployment (the database stays the first one's to stop)."""

    @classmethod
    def replica_of(cls, first: ServerProcess, **env: str) -> ServerProcess:
        replica = cls(**env)
        replica.shared_with = first
        replica.admin_key, replica.secret_key = first.admin_key, first.secret_key
        return replica

    def __init__(self, **env: str) -> None:
        self.shared_with: ServerProcess | None = None
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
            if self.shared_with is None:
                self.start_database()
            else:
                self.dsn = self.shared_with.dsn
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

    def kill(self) -> None:
        """SIGKILL: the process dies mid-whatever, as in a crash or an OOM kill (no shutdown code runs)."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

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
        return sql(self.dsn, query, *args)
