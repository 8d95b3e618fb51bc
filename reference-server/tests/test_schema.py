"""The plan's views and functions, and the constraints that make bad states impossible."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest

pytestmark = pytest.mark.anyio

WALLET = "0x" + "ab" * 20


async def add_node(conn: asyncpg.Connection, name: str, *, last_seen: datetime | None = None,
                   wallet: str = WALLET) -> uuid.UUID:
    node_id: uuid.UUID = await conn.fetchval(
        """INSERT INTO far_nodes (node_address, wallet_address, node_name, model_id, start_block, end_block,
               total_blocks, last_seen) VALUES ($1, $2, $3, 'm', 0, 2, 4, coalesce($4, now())) RETURNING id""",
        "0x" + uuid.uuid4().hex[:40].ljust(40, "0"), wallet, name, last_seen,
    )
    return node_id


async def add_session(conn: asyncpg.Connection, request_id: str, *, tokens: int, cost: str,
                      fee: str = "0") -> uuid.UUID:
    session_id: uuid.UUID = await conn.fetchval(
        """INSERT INTO far_mesh_sessions (request_id, model_id, price_per_token_far, tokens_generated, cost_far,
               platform_fee_far, status) VALUES ($1, 'm', 0.0001, $2, $3, $4, 'streaming') RETURNING id""",
        request_id, tokens, Decimal(cost), Decimal(fee),
    )
    return session_id


async def contribute(conn: asyncpg.Connection, session_id: uuid.UUID, node_id: uuid.UUID, *, tokens: int,
                     blocks: tuple[int, int], pay: str) -> None:
    await conn.execute(
        """INSERT INTO far_session_contributions (session_id, node_id, start_block, end_block, tokens_contributed,
               block_tokens, payment_far) VALUES ($1, $2, $3, $4, $5, $6, $7)""",
        session_id, node_id, blocks[0], blocks[1], tokens, tokens * (blocks[1] - blocks[0]), Decimal(pay),
    )


async def test_active_far_nodes_hides_stale_and_offline_nodes(conn: asyncpg.Connection) -> None:
    now = await conn.fetchval("SELECT now()")
    fresh = await add_node(conn, "fresh")
    await add_node(conn, "stale", last_seen=now - timedelta(seconds=91))
    gone = await add_node(conn, "gone")
    await conn.execute("UPDATE far_nodes SET status = 'offline' WHERE id = $1", gone)
    assert [r["id"] for r in await conn.fetch("SELECT id FROM active_far_nodes")] == [fresh]


async def test_update_node_last_seen_brings_a_node_back(conn: asyncpg.Connection) -> None:
    now = await conn.fetchval("SELECT now()")
    node = await add_node(conn, "n", last_seen=now - timedelta(hours=1))
    await conn.execute("UPDATE far_nodes SET status = 'offline' WHERE id = $1", node)
    row = await conn.fetchrow("SELECT status, last_seen, online_since FROM update_node_last_seen($1, $2)", node, now)
    assert row["status"] == "online" and row["last_seen"] == now and row["online_since"] == now
    with pytest.raises(asyncpg.NoDataFoundError):
        await conn.execute("SELECT update_node_last_seen($1)", uuid.uuid4())


async def test_a_heartbeat_records_the_beat_and_reads_the_books(conn: asyncpg.Connection) -> None:
    now = await conn.fetchval("SELECT now()")
    node = await add_node(conn, "n", last_seen=now - timedelta(hours=1))
    await conn.execute("UPDATE far_nodes SET status = 'offline', token_hash = $2 WHERE id = $1", node, "ab" * 32)
    session = await add_session(conn, "hb-books", tokens=60, cost="0.006")
    await contribute(conn, session, node, tokens=10, blocks=(0, 1), pay="0.001")
    await contribute(conn, session, node, tokens=20, blocks=(1, 2), pay="0.002")
    await contribute(conn, session, node, tokens=30, blocks=(2, 3), pay="0.003")
    paid, planned = uuid.uuid4(), uuid.uuid4()
    for batch, key in ((paid, "cd"), (planned, "ce")):
        await conn.execute(
            """INSERT INTO far_payment_batches (id, batch_key, period_start, network, total_far, total_wei,
                   recipient_count) VALUES ($1, $2, current_date, 'local', 0.001, 1000000000000000, 1)""",
            batch, "0x" + key * 32)
    await conn.execute(
        """UPDATE far_session_contributions SET paid_at = now(), payment_batch_id = $2, tx_hash = $3
           WHERE node_id = $1 AND tokens_contributed = 10""", node, paid, "0x" + "ef" * 32)
    # Reserved by a batch not sent yet: still unpaid (far_contribution_unpaid(), migration 009).
    await conn.execute("UPDATE far_session_contributions SET payment_batch_id = $2 WHERE node_id = $1 "
                       "AND tokens_contributed = 20", node, planned)

    async def beat(token_hash: str) -> asyncpg.Record:
        one = [{"beat": 0, "token_hash": token_hash, "seen_at": now.isoformat(), "tokens_served": 7,
                "in_flight": 1, "hardware": {"gpu_name": "X"}}]
        row: asyncpg.Record = await conn.fetchrow("SELECT * FROM far_node_heartbeats($1)", json.dumps(one))
        return row

    row = await beat("ab" * 32)
    assert (row["outcome"], row["node_id"], row["tokens_credited"], row["earned_far"], row["unpaid_far"]) == (
        "ok", node, 60, Decimal("0.006"), Decimal("0.005"))
    node_row = await conn.fetchrow("SELECT * FROM far_nodes WHERE id = $1", node)
    assert node_row["status"] == "online" and node_row["last_seen"] == now and node_row["online_since"] == now
    assert node_row["tokens_served"] == 7 and node_row["hardware"] == '{"gpu_name": "X"}'
    assert (await beat("cd" * 32))["outcome"] == "unknown_token"  # nobody holds that token
    summary = await conn.fetchrow("SELECT * FROM node_earnings_summary WHERE node_id = $1", node)
    assert (summary["paid_far"], summary["unpaid_far"]) == (Decimal("0.001"), Decimal("0.005"))
    # The relaxed commit is the heartbeat's own: never the session's, never a transaction that wrote before it.
    assert await conn.fetchval("SHOW synchronous_commit") == "on"
    async with conn.transaction():
        await conn.execute("UPDATE far_nodes SET in_flight = 0 WHERE id = $1", node)
        await beat("ab" * 32)
        assert await conn.fetchval("SHOW synchronous_commit") == "on"


async def test_online_follows_the_servers_offline_window(conn: asyncpg.Connection) -> None:
    """The view and the server's queries share far_node_online(); the window is the connection's setting."""
    now = await conn.fetchval("SELECT now()")
    node = await add_node(conn, "twenty-s-ago", last_seen=now - timedelta(seconds=20))
    assert [r["id"] for r in await conn.fetch("SELECT id FROM active_far_nodes")] == [node]  # 90 s by default
    await conn.execute("SET farlabs.node_offline_after_s = 15")  # what a server beating every 5 s sets
    assert await conn.fetch("SELECT id FROM active_far_nodes") == []
    row = await conn.fetchrow("SELECT * FROM update_node_last_seen($1, $2)", node, now)
    assert row["online_since"] == now  # it had been offline under that window: a new stretch online
    assert [r["id"] for r in await conn.fetch("SELECT id FROM active_far_nodes")] == [node]


async def test_far_open_session_is_idempotent_and_relaxes_only_its_own_commit(conn: asyncpg.Connection) -> None:
    call = "SELECT far_open_session($1, $2, NULL, NULL, 'm', 0.0001, NULL)"
    first = await conn.fetchval(call, "open-1", "ab" * 32)
    assert first is not None and await conn.fetchval(call, "open-1", "ab" * 32) is None  # the id is taken
    row = await conn.fetchrow("SELECT status, price_per_token_far FROM far_mesh_sessions WHERE id = $1", first)
    assert (row["status"], row["price_per_token_far"]) == ("pending", Decimal("0.0001"))
    assert await conn.fetchval("SHOW synchronous_commit") == "on"
    async with conn.transaction():
        await add_node(conn, "wrote-first")
        await conn.fetchval(call, "open-2", "ab" * 32)
        assert await conn.fetchval("SHOW synchronous_commit") == "on"


async def test_finalize_session_and_earnings_summary(conn: asyncpg.Connection) -> None:
    a, b = await add_node(conn, "a"), await add_node(conn, "b")
    # 10 tokens: node a served blocks 0-1 (10 block-tokens), node b blocks 1-4 (30): shares 1/4 and 3/4.
    session = await add_session(conn, "req-1", tokens=10, cost="0.0010")
    await contribute(conn, session, a, tokens=10, blocks=(0, 1), pay="0.00025")
    await contribute(conn, session, b, tokens=10, blocks=(1, 4), pay="0.00075")
    final = await conn.fetchrow("SELECT status, completed_at, finish_reason FROM finalize_session($1, 'completed', 'length')",
                                session)
    assert final["status"] == "completed" and final["completed_at"] is not None and final["finish_reason"] == "length"
    summary = {r["node_name"]: r for r in await conn.fetch("SELECT * FROM node_earnings_summary")}
    assert summary["a"]["total_earned_far"] == Decimal("0.00025") and summary["a"]["block_tokens"] == 10
    assert summary["b"]["unpaid_far"] == Decimal("0.00075") and summary["b"]["paid_far"] == 0
    assert summary["b"]["session_count"] == 1 and summary["b"]["tokens_contributed"] == 10
    # Closing twice is refused.
    with pytest.raises(asyncpg.NoDataFoundError):
        await conn.execute("SELECT finalize_session($1, 'completed')", session)


async def test_finalize_session_refuses_shares_that_do_not_add_up(conn: asyncpg.Connection) -> None:
    node = await add_node(conn, "a")
    session = await add_session(conn, "req-2", tokens=10, cost="0.0010", fee="0.0001")
    await contribute(conn, session, node, tokens=10, blocks=(0, 2), pay="0.0010")  # forgot the fee
    with pytest.raises(asyncpg.CheckViolationError, match="do not add up"):
        await conn.execute("SELECT finalize_session($1, 'completed')", session)
    with pytest.raises(asyncpg.CheckViolationError, match="not a final status"):
        await conn.execute("SELECT finalize_session($1, 'streaming')", session)


async def test_request_id_is_unique(conn: asyncpg.Connection) -> None:
    await add_session(conn, "same", tokens=1, cost="0.0001")
    with pytest.raises(asyncpg.UniqueViolationError):
        await add_session(conn, "same", tokens=1, cost="0.0001")


@pytest.mark.parametrize(
    "statement",
    [
        # negative money
        "INSERT INTO far_mesh_sessions (request_id, model_id, price_per_token_far, cost_far) VALUES ('x', 'm', 0, -1)",
        # a fee larger than the cost
        """INSERT INTO far_mesh_sessions (request_id, model_id, price_per_token_far, cost_far, platform_fee_far)
           VALUES ('x', 'm', 0, 1, 2)""",
        # a completed session without a completion time
        "INSERT INTO far_mesh_sessions (request_id, model_id, price_per_token_far, status) VALUES ('x', 'm', 0, 'completed')",
        # an address that is not one
        """INSERT INTO far_nodes (node_address, wallet_address, node_name, model_id, start_block, end_block, total_blocks)
           VALUES ('0x12', '0x12', 'n', 'm', 0, 1, 1)""",
        # blocks outside the model
        """INSERT INTO far_nodes (node_address, wallet_address, node_name, model_id, start_block, end_block, total_blocks)
           VALUES ('0x1111111111111111111111111111111111111111', '0x1111111111111111111111111111111111111111',
                   'n', 'm', 2, 9, 4)""",
        # a confirmed batch without a confirmation time or transaction
        """INSERT INTO far_payment_batches (batch_key, period_start, network, status, total_far, total_wei, recipient_count)
           VALUES ('0x' || repeat('a', 64), '2026-11-23', 'local', 'confirmed', 1, 1000000000000000000, 1)""",
    ],
)
async def test_constraints_refuse_bad_states(conn: asyncpg.Connection, statement: str) -> None:
    with pytest.raises(asyncpg.IntegrityConstraintViolationError):
        await conn.execute(statement)


async def test_a_contribution_needs_a_real_session_and_node(conn: asyncpg.Connection) -> None:
    node = await add_node(conn, "a")
    with pytest.raises(asyncpg.ForeignKeyViolationError):
        await contribute(conn, uuid.uuid4(), node, tokens=1, blocks=(0, 1), pay="0")


async def test_paid_contribution_needs_a_transaction(conn: asyncpg.Connection) -> None:
    node = await add_node(conn, "a")
    session = await add_session(conn, "r", tokens=1, cost="0")
    await contribute(conn, session, node, tokens=1, blocks=(0, 1), pay="0")
    with pytest.raises(asyncpg.CheckViolationError):
        await conn.execute("UPDATE far_session_contributions SET paid_at = now()")


async def test_far_node_heartbeats_writes_a_batch_and_answers_each_beat(conn: asyncpg.Connection) -> None:
    now = await conn.fetchval("SELECT now()")
    a, b = await add_node(conn, "a", last_seen=now - timedelta(hours=1)), await add_node(conn, "b")
    for node, token in ((a, "aa" * 32), (b, "bb" * 32)):
        await conn.execute("UPDATE far_nodes SET token_hash = $2 WHERE id = $1", node, token)
    seen = (now + timedelta(seconds=5)).isoformat()
    beats = [  # out of token order on purpose: answers come back by beat number
        {"beat": 0, "token_hash": "bb" * 32, "seen_at": seen, "tokens_served": 5, "in_flight": 2, "end_block": 9,
         "hardware": {}},
        {"beat": 1, "token_hash": "cc" * 32, "seen_at": seen, "tokens_served": 0, "in_flight": 0, "hardware": {}},
        {"beat": 2, "token_hash": "aa" * 32, "seen_at": seen, "tokens_served": 7, "in_flight": 1, "start_block": 1,
         "end_block": 4, "hardware": {"gpu_name": "X"}},
    ]
    rows = await conn.fetch("SELECT * FROM far_node_heartbeats($1) ORDER BY beat", json.dumps(beats))
    assert [(r["beat"], r["node_id"], r["outcome"]) for r in rows] == [
        (0, None, "bad_blocks"), (1, None, "unknown_token"), (2, a, "ok")]
    assert (rows[2]["tokens_credited"], rows[2]["earned_far"], rows[2]["unpaid_far"]) == (0, 0, 0)
    row_a = await conn.fetchrow("SELECT * FROM far_nodes WHERE id = $1", a)
    assert (row_a["start_block"], row_a["end_block"], row_a["tokens_served"], row_a["in_flight"]) == (1, 4, 7, 1)
    assert row_a["last_seen"] == row_a["online_since"] == now + timedelta(seconds=5)  # back after an hour away
    row_b = await conn.fetchrow("SELECT * FROM far_nodes WHERE id = $1", b)
    assert (row_b["end_block"], row_b["tokens_served"], row_b["in_flight"]) == (2, 0, 0)  # refused: untouched
    assert await conn.fetchval("SHOW synchronous_commit") == "on"
