"""A real process dies mid-payout; a new process finishes it. On anvil (kept with `--state`, restarted in between).

The dying process is `farlabs-server payouts run` with one step made fatal (`os._exit`: no cleanup, its
database connections and advisory lock simply vanish), so this is what a crashed or killed server leaves.
"""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import anyio
import asyncpg
import pytest
from web3 import Web3

from farlabs_devtools.anvil import AnvilNode, find_anvil
from farlabs_devtools.testing import sql
from farlabs_server.payouts.contracts import load_artifact

from .payout_seed import provider

ANVIL = find_anvil()
pytestmark = pytest.mark.skipif(ANVIL is None, reason="anvil not installed: run `npm install` at the repo root (@foundry-rs/anvil)")

DIE_AT = """
import os, sys
from farlabs_server.payouts import tracker
from farlabs_server.cli import main

def step(self, name, batch):
    if name == os.environ["DIE_AT_STEP"]:
        os._exit(137)

tracker.PayoutTracker._step = step
sys.exit(main(["payouts", "run"]))
"""


def run_cli(database_url: str, rpc_url: str, die_at: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "POSTGRES_URL": database_url, "LOG_LEVEL": "WARNING", "FARLABS_PAYOUT_RPC_URL": rpc_url}
    if die_at is None:
        args = [sys.executable, "-m", "farlabs_server.cli", "payouts", "run"]
    else:
        args, env["DIE_AT_STEP"] = [sys.executable, "-c", DIE_AT], die_at
    return subprocess.run(args, env=env, capture_output=True, text=True, timeout=120)


def balance(rpc_url: str, token: str, wallet: str) -> int:
    w3 = Web3(Web3.HTTPProvider(rpc_url))
    contract = w3.eth.contract(address=Web3.to_checksum_address(token), abi=load_artifact("FarToken").abi)
    return int(contract.functions.balanceOf(Web3.to_checksum_address(wallet)).call())


@pytest.mark.parametrize("step", ["after_plan", "after_sign", "after_broadcast", "after_confirm", "before_mark_paid"])
def test_a_killed_payout_process_is_finished_by_the_next_one(database_url: str, tmp_path: Path, step: str) -> None:
    assert ANVIL is not None

    async def seed() -> list[str]:
        conn = await asyncpg.connect(database_url)
        try:
            earned = datetime.now(UTC) - timedelta(hours=1)
            return [await provider(conn, amounts, earned) for amounts in (["10", "2.5"], ["33.000000000000000001"])]
        finally:
            await conn.close()

    wallets = anyio.run(seed)
    state = tmp_path / "chain.json"
    with AnvilNode(ANVIL, state_path=state) as node:
        died = run_cli(database_url, node.url, die_at=step)
        assert died.returncode == 137, died.stderr

    [batch] = sql(database_url, "SELECT status, tx_hash FROM far_payment_batches")
    assert batch["status"] == {"after_plan": "planned", "after_sign": "signed"}.get(step, "broadcast")
    assert sql(database_url, "SELECT status FROM far_payout_runs")[0]["status"] == "running"  # it died mid-run

    with AnvilNode(ANVIL, state_path=state) as node:  # the chain comes back from its state file
        rerun = run_cli(database_url, node.url)
        assert rerun.returncode == 0, rerun.stdout + rerun.stderr
        [contracts] = sql(database_url, "SELECT token_address, payout_address FROM far_payout_contracts")
        [paid] = sql(database_url, "SELECT tx_hash FROM far_payment_batches WHERE status = 'confirmed'")
        assert batch["tx_hash"] in (None, paid["tx_hash"])  # the saved transaction is the one that paid
        assert [balance(node.url, contracts["token_address"], w) for w in wallets] == [12_500_000_000_000_000_000,
                                                                                        33_000_000_000_000_000_001]
    assert sql(database_url, "SELECT count(*) FROM far_session_contributions WHERE paid_at IS NULL")[0][0] == 0
    runs = [r["status"] for r in sql(database_url, "SELECT status FROM far_payout_runs ORDER BY started_at")]
    assert runs == ["interrupted", "completed"]
    assert [r["status"] for r in sql(database_url, "SELECT status FROM far_payment_transactions")] == ["mined"]


def test_testnet_settings_pay_over_json_rpc(database_url: str, tmp_path: Path) -> None:
    """The testnet/mainnet path: configured contracts, chain id and key; verified, then paid (anvil plays testnet)."""
    from eth_account import Account

    from farlabs_server.payouts.anvil import ANVIL_TEST_KEY
    from farlabs_server.payouts.local import deploy_and_fund

    assert ANVIL is not None

    async def seed() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            return await provider(conn, ["10.25"], datetime.now(UTC) - timedelta(hours=1))
        finally:
            await conn.close()

    wallet = anyio.run(seed)
    with AnvilNode(ANVIL) as node:
        chain = deploy_and_fund(node.web3(), Account.from_key(ANVIL_TEST_KEY))
        env = {**os.environ, "POSTGRES_URL": database_url, "LOG_LEVEL": "WARNING", "FARLABS_PAYOUT_RPC_URL": node.url,
               "FARLABS_PAYOUT_CHAIN_ID": "31337", "FARLABS_PAYOUT_TOKEN_ADDRESS": chain.token.address,
               "FARLABS_PAYOUT_CONTRACT_ADDRESS": chain.payout.address, "FARLABS_PAYOUT_PRIVATE_KEY": ANVIL_TEST_KEY,
               "FARLABS_PAYOUT_CONFIRMATIONS": "1", "FARLABS_PAYOUT_POLL_INTERVAL_S": "0.05"}
        wrong_chain = subprocess.run([sys.executable, "-m", "farlabs_server.cli", "payouts", "run", "--network", "testnet"],
                                     env={**env, "FARLABS_PAYOUT_CHAIN_ID": "97"}, capture_output=True, text=True, timeout=120)
        assert wrong_chain.returncode == 1 and "not the configured 97" in wrong_chain.stderr
        paid = subprocess.run([sys.executable, "-m", "farlabs_server.cli", "payouts", "run", "--network", "testnet"],
                              env=env, capture_output=True, text=True, timeout=120)
        assert paid.returncode == 0, paid.stdout + paid.stderr
        assert chain.token_balance(wallet) == 10_250_000_000_000_000_000
        assert ANVIL_TEST_KEY[2:] not in paid.stdout + paid.stderr
    [batch] = sql(database_url, "SELECT network, chain_id, status FROM far_payment_batches")
    assert tuple(batch) == ("testnet", 31337, "confirmed")
    assert sql(database_url, "SELECT count(*) FROM far_payout_contracts")[0][0] == 0  # configured, not deployed by us
