"""The payout process SIGKILLed at every step of the tracker, one run after another (fault injection, issue 9).

`farlabs-server payouts run` runs as a real process against a real chain (anvil, kept running) and its own
PostgreSQL. Each run is stopped at a different step — contributions reserved but the plan not yet committed,
plan saved, signed, broadcast, confirmed, inside the mark-paid transaction, after it — by a test hook that
parks the process there, and the test kills it with SIGKILL from outside (no cleanup, no finally, its
connections and advisory lock simply vanish). Three batches, so runs die at different batches. Then one clean
run: every recipient is paid exactly once (on chain, to the wei), every contribution is marked paid once, by the
transaction that paid its batch.

reference-server/tests/payouts/test_restart_on_anvil.py covers one crash (os._exit) then a rerun, per step;
this chains the kills across consecutive runs and several batches.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import ROUND_DOWN, Decimal
from pathlib import Path

import anyio
import asyncpg
import pytest
from eth_account import Account
from web3 import Web3

from farlabs_devtools.anvil import AnvilNode, find_anvil
from farlabs_devtools.testing import sql
from farlabs_server.db.embedded import EmbeddedPostgres
from farlabs_server.db.migrate import apply_migrations
from farlabs_server.payouts.amounts import far_to_wei
from farlabs_server.payouts.contracts import load_artifact

ANVIL = find_anvil()
# Parks the real CLI at one tracker step (after doing it) until the test kills it.
# "plan_reserved_uncommitted": the plan's batches are written and its contributions reserved, inside a transaction
# that has not committed yet (save_plan's own transaction, run as a savepoint of an outer one that stays open).
PARK_AT = """
import os, sys, time
from pathlib import Path
from farlabs_server.payouts import tracker
from farlabs_server.cli import main

def park(batch):
    marker = Path(os.environ["PARK_MARKER"])
    marker.with_suffix(".tmp").write_text(batch.batch_key if batch is not None else "-")
    marker.with_suffix(".tmp").rename(marker)  # whole, or not there
    time.sleep(3600)

original_step, original_save_plan = tracker.PayoutTracker._step, tracker.db_payouts.save_plan

def step(self, name, batch):
    original_step(self, name, batch)
    if name == os.environ["PARK_AT_STEP"]:
        park(batch)

async def save_plan(conn, *args, **kwargs):
    async with conn.transaction():
        ids = await original_save_plan(conn, *args, **kwargs)
        if os.environ["PARK_AT_STEP"] == "plan_reserved_uncommitted":
            park(None)
        return ids

tracker.PayoutTracker._step = step
tracker.db_payouts.save_plan = save_plan
sys.exit(main(["payouts", "run"]))
"""
# What each consecutive run dies at; the tracker reaches each of them in this order over 3 batches.
KILL_SEQUENCE = ["plan_reserved_uncommitted", "after_plan", "after_sign", "after_broadcast", "after_confirm",
                 "before_mark_paid", "after_mark_paid"]
OWED_FAR = ["10", "12.5", "33.000000000000000001", "10.1", "11", "250.25", "19.999999999999999999"]


@pytest.fixture
def database_url() -> Iterator[str]:
    root = Path(tempfile.mkdtemp(prefix="farlabs-faults-payout-"))
    pg = EmbeddedPostgres(root)

    async def migrate() -> None:
        conn = await asyncpg.connect(pg.dsn())
        try:
            await apply_migrations(conn)
        finally:
            await conn.close()

    anyio.run(migrate)
    yield pg.dsn()
    pg.stop()
    shutil.rmtree(root, ignore_errors=True)


async def seed(dsn: str) -> dict[str, int]:
    """One wallet per amount, each with two nodes that earned it in two sessions; returns wallet -> wei owed."""
    earned = datetime.now(UTC) - timedelta(hours=1)
    owed: dict[str, int] = {}
    conn = await asyncpg.connect(dsn)
    try:
        for amount in OWED_FAR:
            wallet = Account.create().address
            half = (Decimal(amount) / 2).quantize(Decimal("1e-18"), rounding=ROUND_DOWN)  # NUMERIC(38, 18): wei
            halves = [half, Decimal(amount) - half]
            for half in halves:
                node_id = await conn.fetchval(
                    """INSERT INTO far_nodes (node_address, wallet_address, node_name, model_id, start_block, end_block,
                           total_blocks) VALUES ($1, $2, $3, 'test/tiny', 0, 2, 4) RETURNING id""",
                    Account.create().address.lower(), wallet.lower(), f"n-{uuid.uuid4().hex[:8]}")
                session = await conn.fetchval(
                    """INSERT INTO far_mesh_sessions (request_id, model_id, price_per_token_far, tokens_generated,
                           cost_far, status, finish_reason, created_at, completed_at)
                       VALUES ($1, 'test/tiny', 0.0001, 1, $2, 'completed', 'stop', $3, $3) RETURNING id""",
                    f"req-{uuid.uuid4()}", half, earned)
                await conn.execute(
                    """INSERT INTO far_session_contributions (session_id, node_id, start_block, end_block,
                           tokens_contributed, block_tokens, payment_far, created_at)
                       VALUES ($1, $2, 0, 2, 1, 2, $3, $4)""", session, node_id, half, earned)
            owed[wallet] = far_to_wei(Decimal(amount))
    finally:
        await conn.close()
    return owed


def cli_env(database_url: str, rpc_url: str) -> dict[str, str]:
    # 200k gas fits 3 recipients: 7 wallets make 3 batches.
    return {**os.environ, "POSTGRES_URL": database_url, "FARLABS_PAYOUT_RPC_URL": rpc_url, "LOG_LEVEL": "WARNING",
            "FARLABS_PAYOUT_MAX_TX_GAS": "200000", "FARLABS_PAYOUT_NETWORK": "local"}


def run_and_kill_at(step: str, env: dict[str, str], work: Path) -> str:
    """Start a payout run, wait until it parks at `step`, SIGKILL it; the batch key it was at."""
    marker = work / f"parked-{step}"
    log = (work / f"run-{step}.log").open("wb")
    proc = subprocess.Popen([sys.executable, "-c", PARK_AT], env={**env, "PARK_AT_STEP": step, "PARK_MARKER": str(marker)},
                            stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 120
        while not marker.exists():
            if proc.poll() is not None:
                pytest.fail(f"the run meant to die at {step} exited {proc.returncode} first:\n"
                            f"{(work / f'run-{step}.log').read_text()[-3000:]}")
            if time.monotonic() > deadline:
                pytest.fail(f"the run never reached {step}")
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        assert proc.wait(timeout=30) == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        log.close()
    return marker.read_text()


def balance(w3: Web3, token: str, wallet: str) -> int:
    contract = w3.eth.contract(address=Web3.to_checksum_address(token), abi=load_artifact("FarToken").abi)
    return int(contract.functions.balanceOf(Web3.to_checksum_address(wallet)).call())


def test_a_payout_process_killed_at_every_step_in_turn_pays_everyone_exactly_once(
        database_url: str, tmp_path: Path) -> None:
    assert ANVIL is not None, "anvil not installed: run `npm install` at the repo root (@foundry-rs/anvil)"
    owed = anyio.run(seed, database_url)
    with AnvilNode(ANVIL) as node:
        env = cli_env(database_url, node.url)
        run_and_kill_at(KILL_SEQUENCE[0], env, tmp_path)
        # A plan killed before its commit left nothing: no batch, no contribution reserved.
        assert sql(database_url, "SELECT count(*) FROM far_payment_batches")[0][0] == 0
        assert sql(database_url, "SELECT count(*) FROM far_session_contributions WHERE payment_batch_id IS NOT NULL"
                   )[0][0] == 0
        parked_at = [run_and_kill_at(step, env, tmp_path) for step in KILL_SEQUENCE[1:]]
        # The kills fell on different batches: the first batch's signing, then the second one's later steps.
        batches = sql(database_url, "SELECT batch_key, status FROM far_payment_batches ORDER BY created_at, batch_key")
        assert len(batches) == 3 and parked_at[0] == "-"
        assert parked_at[1] != parked_at[2] == parked_at[3] == parked_at[4] == parked_at[5]
        assert sql(database_url, "SELECT count(*) FROM far_payout_runs WHERE status = 'running'")[0][0] == 1

        final = subprocess.run([sys.executable, "-m", "farlabs_server.cli", "payouts", "run"], env=env,
                               capture_output=True, text=True, timeout=120)
        assert final.returncode == 0, final.stdout + final.stderr

        [contracts] = sql(database_url, "SELECT token_address FROM far_payout_contracts")
        w3 = node.web3()
        assert {w: balance(w3, contracts["token_address"], w) for w in owed} == owed  # each paid once, to the wei
        again = subprocess.run([sys.executable, "-m", "farlabs_server.cli", "payouts", "run"], env=env,
                               capture_output=True, text=True, timeout=120)
        assert again.returncode == 0, again.stdout + again.stderr
        assert {w: balance(w3, contracts["token_address"], w) for w in owed} == owed  # a later run pays nobody again

    # The books: every batch confirmed by exactly one mined transaction; every contribution paid once, by it.
    rows = sql(database_url, """
        SELECT b.batch_key, b.status, b.tx_hash, b.total_wei,
               (SELECT count(*) FROM far_payment_transactions t WHERE t.batch_id = b.id AND t.status = 'mined') AS mined,
               (SELECT count(*) FROM far_session_contributions c WHERE c.payment_batch_id = b.id) AS reserved,
               (SELECT count(*) FROM far_session_contributions c WHERE c.payment_batch_id = b.id
                  AND c.paid_at IS NOT NULL AND c.tx_hash = b.tx_hash) AS paid_by_it
        FROM far_payment_batches b""")
    assert [(r["status"], r["mined"]) for r in rows] == [("confirmed", 1)] * 3
    assert all(r["reserved"] == r["paid_by_it"] > 0 for r in rows)
    assert sum(int(r["total_wei"]) for r in rows) == sum(owed.values())
    assert sql(database_url, "SELECT count(*) FROM far_session_contributions WHERE paid_at IS NULL")[0][0] == 0
    assert sql(database_url, "SELECT count(*) FROM far_session_contributions")[0][0] == 2 * len(OWED_FAR)
    runs = [r["status"] for r in sql(database_url, "SELECT status FROM far_payout_runs ORDER BY started_at")]
    assert runs == ["interrupted"] * len(KILL_SEQUENCE) + ["completed", "completed"]
