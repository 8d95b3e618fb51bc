"""The heartbeat writer (group commit) on a real PostgreSQL: batches under load, each beat answered, in order."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest

from farlabs_server.db import create_pool
from farlabs_server.db.nodes import BeatRow
from farlabs_server.discovery import service
from farlabs_server.discovery.heartbeats import HeartbeatWriter
from farlabs_server.discovery.models import HeartbeatRequest

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 28, 12, tzinfo=UTC)


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, min_size=1, max_size=4)
    yield created
    await created.close()


async def add_nodes(pool: asyncpg.Pool, count: int) -> list[str]:
    """`count` registered nodes; their token hashes."""
    hashes = [uuid.uuid4().hex * 2 for _ in range(count)]
    async with pool.acquire() as conn:
        for i, token_hash in enumerate(hashes):
            await conn.execute(
                """INSERT INTO far_nodes (node_address, wallet_address, node_name, model_id, start_block, end_block,
                       total_blocks, token_hash, last_seen) VALUES ($1, $2, $3, 'm', 0, 2, 4, $4, $5)""",
                f"0x{i:040x}", "0x" + "ab" * 20, f"n{i}", token_hash, NOW)
    return hashes


def beat(token_hash: str, tokens: int, seconds: int = 0) -> service.Beat:
    return service.Beat(token_hash, HeartbeatRequest(tokens_served=tokens), NOW + timedelta(seconds=seconds))


async def test_concurrent_beats_go_in_few_statements_and_each_gets_its_own_answer(pool: asyncpg.Pool) -> None:
    hashes = await add_nodes(pool, 40)
    writer = HeartbeatWriter(pool)
    # Every node beats twice at once: the second beat must land after the first (it carries the higher count).
    beats = [beat(h, tokens=1, seconds=1) for h in hashes] + [beat(h, tokens=2, seconds=2) for h in hashes]
    beats.append(beat("ff" * 32, tokens=1))  # nobody's token
    rows = await asyncio.gather(*(writer.write(b) for b in beats))
    assert [r.outcome for r in rows] == ["ok"] * 80 + ["unknown_token"]
    async with pool.acquire() as conn:
        ids = {r["token_hash"]: r["id"] for r in await conn.fetch("SELECT id, token_hash FROM far_nodes")}
        stored = await conn.fetch("SELECT tokens_served, last_seen FROM far_nodes")
    assert [r.node_id for r in rows[:80]] == [ids[h] for h in hashes] * 2
    assert {(r["tokens_served"], r["last_seen"]) for r in stored} == {(2, NOW + timedelta(seconds=2))}
    assert writer.beats == 81 and writer.batches == 2  # each node's first beats together, then the second ones
    await writer.aclose()


async def test_a_lone_beat_is_written_at_once(pool: asyncpg.Pool) -> None:
    [token_hash] = await add_nodes(pool, 1)
    writer = HeartbeatWriter(pool)
    row = await asyncio.wait_for(writer.write(beat(token_hash, tokens=3)), timeout=10)
    assert row.outcome == "ok" and writer.batches == 1


async def test_a_failed_batch_fails_its_beats_and_the_next_batch_still_runs(
        pool: asyncpg.Pool, monkeypatch: pytest.MonkeyPatch) -> None:
    hashes = await add_nodes(pool, 3)
    writer = HeartbeatWriter(pool)
    real = service.record_heartbeats
    calls = 0

    async def down_once(conn: asyncpg.Connection, beats: list[service.Beat]) -> list[BeatRow]:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise asyncpg.PostgresConnectionError("connection lost")
        return await real(conn, beats)

    monkeypatch.setattr(service, "record_heartbeats", down_once)
    results = await asyncio.gather(*(writer.write(beat(h, tokens=1)) for h in hashes), return_exceptions=True)
    assert all(isinstance(r, asyncpg.PostgresConnectionError) for r in results)  # one batch, all of it failed
    rows = await asyncio.gather(*(writer.write(beat(h, tokens=5)) for h in hashes))
    assert [r.outcome for r in rows] == ["ok"] * 3 and calls == 2
