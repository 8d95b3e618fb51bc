"""The connection pool resets a released connection only when it holds session state (see PooledConnection)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from farlabs_server.db import create_pool

pytestmark = pytest.mark.anyio

SOURCE = Path(__file__).resolve().parents[1] / "src" / "farlabs_server"

# Statements that leave state on a connection past its transaction. Our code must not use them on a pooled
# connection unless it calls hold_session_state() first (the payout lock does).
SESSION_STATE = re.compile(
    r"pg_(try_)?advisory_lock\(|set_config\([^)]*,\s*false\s*\)|\bLISTEN\b|WITH HOLD"
    r"|(execute|fetch\w*)\(\s*f?[\"']{1,3}\s*SET\s+(?!LOCAL\b)",
    re.IGNORECASE,
)


async def test_a_released_connection_keeps_no_transaction_and_no_marked_lock(database_url: str) -> None:
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            backend = await conn.fetchval("SELECT pg_backend_pid()")
            conn.hold_session_state()
            assert await conn.fetchval("SELECT pg_try_advisory_lock(4242)")
            tx = conn.transaction()
            await tx.start()
            await conn.execute("CREATE TEMP TABLE left_open (x int)")  # a transaction abandoned mid-way
        async with pool.acquire() as conn:
            assert await conn.fetchval("SELECT pg_backend_pid()") == backend  # the same connection, reused
            assert not conn.is_in_transaction()
            assert await conn.fetchval("SELECT to_regclass('pg_temp.left_open')") is None
            assert await conn.fetchval(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()") == 0
    finally:
        await pool.close()


async def test_an_unmarked_release_sends_no_reset(database_url: str) -> None:
    """The point of the policy: no round trip on release. Session state set without the mark survives, which
    is why no code of ours may set it (the next test)."""
    pool = await create_pool(database_url, min_size=1, max_size=1)
    try:
        async with pool.acquire() as conn:
            await conn.execute("SET application_name = 'left-behind'")
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") == "left-behind"
            conn.hold_session_state()
        async with pool.acquire() as conn:
            assert await conn.fetchval("SHOW application_name") != "left-behind"
    finally:
        await pool.close()


def test_only_marked_code_takes_session_state() -> None:
    hits = []
    for path in sorted(SOURCE.rglob("*")):
        if path.suffix not in {".py", ".sql"} or path == SOURCE / "db" / "database.py":  # it describes the policy
            continue
        text = path.read_text()
        for match in SESSION_STATE.finditer(text):
            # In Python, allowed right after the mark; SQL functions run on pooled connections and never may.
            marked = path.suffix == ".py" and "hold_session_state()" in text[max(0, match.start() - 400):match.start()]
            if not marked:
                hits.append(f"{path.relative_to(SOURCE)}: {match.group(0)!r}")
    assert hits == []
