"""Reading a LocalMesh's server database from the cross-package tests (tests/)."""

from __future__ import annotations

import time
from pathlib import Path

import asyncpg

from ..localmesh import LocalMesh
from .postgres import sql

TINY_MODEL_ID = "farlabs/tiny-llama"  # the model `far-node prepare-model tiny` builds


def db_fetch(mesh: LocalMesh, query: str, *args: object) -> list[asyncpg.Record]:
    """One statement on the embedded PostgreSQL of the mesh's server (in its FARLABS_DATA_DIR)."""
    pg_socket_dir = Path(mesh.server_env["FARLABS_DATA_DIR"]) / "pg"
    return sql(f"postgresql://postgres:@/postgres?host={pg_socket_dir}", query, *args)


def wait_for_final_session(mesh: LocalMesh, request_id: str, timeout_s: float = 15) -> asyncpg.Record:
    """The session row once it left `pending` (recording happens just after the stream ends)."""
    deadline = time.monotonic() + timeout_s
    while True:
        rows = db_fetch(mesh, "SELECT status, tokens_generated FROM far_mesh_sessions WHERE request_id = $1", request_id)
        if (rows and rows[0]["status"] != "pending") or time.monotonic() > deadline:
            assert rows, f"no session {request_id}"
            return rows[0]
        time.sleep(0.2)
