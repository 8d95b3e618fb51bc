"""`farlabs-server payouts run|status` as a real process against a real database (local network: in-process EVM)."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta

import anyio
import asyncpg

from farlabs_devtools.testing import sql

from .payout_seed import provider


def cli(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "POSTGRES_URL": database_url, "LOG_LEVEL": "WARNING", **env}
    return subprocess.run([sys.executable, "-m", "farlabs_server.cli", "payouts", *args], env=environment,
                          capture_output=True, text=True, timeout=120)


def seed(database_url: str, amounts: list[str]) -> str:
    async def run() -> str:
        conn = await asyncpg.connect(database_url)
        try:
            return await provider(conn, amounts, datetime.now(UTC) - timedelta(minutes=1))
        finally:
            await conn.close()

    return anyio.run(run)


def test_the_plans_dry_run_lines_then_a_real_run(database_url: str) -> None:
    """Section 3.2: 0.1 + 0.15 FAR of one node (a rehearsal with a 0.1 FAR minimum)."""
    seed(database_url, ["0.1", "0.15"])
    dry = cli(database_url, "run", "--dry-run", FARLABS_PAYOUT_MINIMUM_FAR="0.1")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "✓ Found 1 provider with unpaid earnings",
        "✓ Total to pay: 0.25 FAR",
        "✓ Would execute payment transaction...",
        "[DRY RUN - no actual payment]",
    ]
    assert sql(database_url, "SELECT count(*) FROM far_payment_batches")[0][0] == 0

    paid = cli(database_url, "run", "--network", "local", FARLABS_PAYOUT_MINIMUM_FAR="0.1")
    assert paid.returncode == 0, paid.stderr
    lines = paid.stdout.splitlines()
    assert lines[:2] == ["✓ Found 1 provider with unpaid earnings", "✓ Total to pay: 0.25 FAR"]
    [batch] = sql(database_url, "SELECT status, tx_hash, block_number FROM far_payment_batches")
    assert batch["status"] == "confirmed"
    assert f"✓ Paid 1 provider 0.25 FAR in transaction {batch['tx_hash']} (block {batch['block_number']})" in lines
    rows = sql(database_url, "SELECT tx_hash FROM far_session_contributions WHERE paid_at IS NOT NULL")
    assert [r["tx_hash"] for r in rows] == [batch["tx_hash"]] * 2

    status = cli(database_url, "status")
    assert status.returncode == 0 and "confirmed" in status.stdout and batch["tx_hash"] in status.stdout
    assert "Unpaid: 0 wallet(s) owed 0 FAR" in status.stdout

    again = cli(database_url, "run", FARLABS_PAYOUT_MINIMUM_FAR="0.1")
    assert again.returncode == 0 and "already planned" in again.stdout and "Nothing to pay" in again.stdout


def test_dry_run_shows_who_waits_for_the_minimum(database_url: str) -> None:
    seed(database_url, ["0.1", "0.15"])
    seed(database_url, ["12.5"])
    dry = cli(database_url, "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert dry.stdout.splitlines() == [
        "✓ Found 1 provider with unpaid earnings",
        "✓ 1 provider below the 10 FAR minimum carried to next week (0.25 FAR)",
        "✓ Total to pay: 12.5 FAR",
        "✓ Would execute payment transaction...",
        "[DRY RUN - no actual payment]",
    ]


def test_a_real_network_without_its_settings_is_refused_and_the_key_never_shown(database_url: str) -> None:
    key = "0x" + "5a" * 32
    result = cli(database_url, "run", "--network", "testnet", FARLABS_PAYOUT_PRIVATE_KEY=key)
    assert result.returncode == 1
    assert "payouts on testnet need FARLABS_PAYOUT_RPC_URL" in result.stderr
    assert key not in result.stdout + result.stderr and key[2:] not in result.stdout + result.stderr
    assert sql(database_url, "SELECT count(*) FROM far_payout_runs")[0][0] == 0


def test_a_bad_minimum_is_refused(database_url: str) -> None:
    result = cli(database_url, "run", "--dry-run", "--minimum-far", "ten")
    assert result.returncode == 2 and "--minimum-far must be a decimal" in result.stderr


def test_an_unreachable_node_is_named_by_host_only(database_url: str) -> None:
    import socket

    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    secret_url = f"http://127.0.0.1:{port}/v1/api-key-5ecret"
    result = cli(database_url, "run", FARLABS_PAYOUT_RPC_URL=secret_url)
    assert result.returncode == 1
    assert f"cannot reach the RPC node at http://127.0.0.1:{port}/…" in result.stderr
    assert "5ecret" not in result.stdout + result.stderr
