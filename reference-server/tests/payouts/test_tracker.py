"""The payment tracker on real contracts on a real local EVM and a real PostgreSQL.

The crash tests keep one in-process chain alive while the "process" (the tracker and its database
connections) dies at a step and a fresh tracker reruns: what a restarted server does against a chain
that kept going.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import asyncpg
import pytest
from eth_account.signers.local import LocalAccount

from farlabs_server.db import create_pool
from farlabs_server.db.payouts import PAYOUT_LOCK_ID, BatchRow
from farlabs_server.payouts.amounts import far_to_wei
from farlabs_server.payouts.chain import PayoutChain
from farlabs_server.payouts.local import local_chain
from farlabs_server.payouts.tracker import PayoutBusy, PayoutTracker, Step, TrackerConfig, period_start_of, preview

from .payout_seed import assert_books_balance, paid_wei_by_wallet, provider

pytestmark = pytest.mark.anyio

MONDAY = datetime(2026, 11, 30, tzinfo=UTC)  # a payout day
EARNED = MONDAY - timedelta(days=2)


class Crash(Exception):
    """Stands in for the process dying at a step."""


@pytest.fixture
async def pool(database_url: str) -> AsyncIterator[asyncpg.Pool]:
    created = await create_pool(database_url, min_size=1, max_size=4)
    yield created
    await created.close()


def tracker(pool: asyncpg.Pool, chain: PayoutChain, *, hook: object = None, minimum: str = "10",
            instance: str = "test-chain", max_tx_gas: int = 10_000_000) -> PayoutTracker:
    config = TrackerConfig(network="local", minimum_far=Decimal(minimum), confirmations=1, confirmation_timeout_s=60,
                           poll_interval_s=0.01, max_tx_gas=max_tx_gas)
    return PayoutTracker(pool, chain, chain_instance=instance, config=config, hook=hook)  # type: ignore[arg-type]


def crash_at(step: Step) -> object:
    fired: list[Step] = []

    def hook(seen: Step, batch: BatchRow | None) -> None:
        if seen == step and not fired:
            fired.append(seen)
            raise Crash(step)

    return hook


async def test_the_plans_flow_dry_run_then_pay(pool: asyncpg.Pool, conn: asyncpg.Connection, chain: PayoutChain) -> None:
    """Section 3.2: two contributions of one node (0.1 + 0.15 FAR), a dry run, a real run, the checks."""
    wallet = await provider(conn, ["0.1", "0.15"], EARNED)
    config = TrackerConfig(minimum_far=Decimal("0.1"))
    dry = await preview(conn, cutoff=MONDAY, chain_id=chain.chain_id, config=config)
    assert dry.plan is not None and len(dry.plan.payees) == 1 and dry.plan.total_paid_wei == far_to_wei(Decimal("0.25"))
    assert await conn.fetchval("SELECT count(*) FROM far_payment_batches") == 0  # the dry run wrote nothing

    report = await tracker(pool, chain, minimum="0.1").run(as_of=MONDAY)
    [outcome] = report.batches
    assert outcome.status == "confirmed" and outcome.tx_hash is not None
    assert chain.token_balance(wallet) == 250_000_000_000_000_000
    rows = await conn.fetch("SELECT paid_at, tx_hash FROM far_session_contributions WHERE paid_at IS NOT NULL")
    assert len(rows) == 2 and {r["tx_hash"] for r in rows} == {outcome.tx_hash}
    batch = await conn.fetchrow("SELECT * FROM far_payment_batches WHERE status = 'confirmed'")
    assert batch["tx_hash"] == outcome.tx_hash and batch["total_far"] == Decimal("0.25") and batch["block_number"] > 0
    assert batch["batch_key"] == outcome.batch_key and chain.batch_paid_at_block(bytes.fromhex(outcome.batch_key[2:]))
    run = await conn.fetchrow("SELECT * FROM far_payout_runs")
    assert run["status"] == "completed" and run["providers_paid"] == 1 and run["paid_wei"] == far_to_wei(Decimal("0.25"))


async def test_groups_sessions_and_nodes_per_wallet_and_splits_batches(pool: asyncpg.Pool, conn: asyncpg.Connection,
                                                                       chain: PayoutChain) -> None:
    a = await provider(conn, ["3.3", "4.4", "5.5", "0.000000000000000001"], EARNED, nodes=2)  # two nodes, four sessions
    b = await provider(conn, ["10"], EARNED)
    c = await provider(conn, ["7", "7"], EARNED)
    # Room for two recipients per transaction: three wallets take two transactions.
    report = await tracker(pool, chain, max_tx_gas=80_000 + 2 * 32_000).run(as_of=MONDAY)
    assert [b_.status for b_ in report.batches] == ["confirmed", "confirmed"]
    assert sorted(b_.recipients for b_ in report.batches) == [1, 2]
    assert chain.token_balance(a) == far_to_wei(Decimal("13.200000000000000001"))
    assert chain.token_balance(b) == 10 * 10**18 and chain.token_balance(c) == 14 * 10**18
    assert await conn.fetchval("SELECT count(*) FROM far_session_contributions WHERE paid_at IS NULL") == 0
    await assert_books_balance(conn, chain, [a, b, c])


async def test_minimum_and_carry_over_to_next_week(pool: asyncpg.Pool, conn: asyncpg.Connection, chain: PayoutChain) -> None:
    rich = await provider(conn, ["12"], EARNED)
    poor = await provider(conn, ["4", "5.99"], EARNED)  # 9.99 FAR: under the 10 FAR minimum
    report = await tracker(pool, chain).run(as_of=MONDAY)
    assert report.plan is not None and [p.wallet_address for p in report.plan.carried_over] == [poor]
    assert chain.token_balance(rich) == 12 * 10**18 and chain.token_balance(poor) == 0
    unpaid = await conn.fetch("SELECT payment_batch_id FROM far_session_contributions WHERE paid_at IS NULL")
    assert len(unpaid) == 2 and all(r["payment_batch_id"] is None for r in unpaid)  # carried, not reserved

    # The next week it earns 0.01 more: 10 FAR, paid with everything carried.
    node = await conn.fetchval("SELECT id FROM far_nodes WHERE wallet_address = $1", poor.lower())
    from .payout_seed import add_contributions

    await add_contributions(conn, node, ["0.01"], MONDAY + timedelta(days=3))
    report = await tracker(pool, chain).run(as_of=MONDAY + timedelta(days=7))
    assert [b.status for b in report.batches] == ["confirmed"]
    assert chain.token_balance(poor) == 10 * 10**18
    await assert_books_balance(conn, chain, [rich, poor])


async def test_a_second_run_the_same_week_pays_nothing(pool: asyncpg.Pool, conn: asyncpg.Connection, chain: PayoutChain) -> None:
    wallet = await provider(conn, ["11"], EARNED)
    await tracker(pool, chain).run(as_of=MONDAY)
    assert chain.token_balance(wallet) == 11 * 10**18
    # More earnings the same week wait for next Monday, however often someone runs payouts.
    later = await provider(conn, ["20"], MONDAY + timedelta(hours=1))
    for hours in (2, 50):
        again = await tracker(pool, chain).run(as_of=MONDAY + timedelta(hours=hours))
        assert again.planned_earlier and again.plan is None and again.batches == []
    assert chain.token_balance(wallet) == 11 * 10**18 and chain.token_balance(later) == 0
    assert await conn.fetchval("SELECT count(*) FROM far_payment_batches") == 1
    nxt = await tracker(pool, chain).run(as_of=MONDAY + timedelta(days=7))
    assert [b.status for b in nxt.batches] == ["confirmed"] and chain.token_balance(later) == 20 * 10**18
    await assert_books_balance(conn, chain, [wallet, later])


@pytest.mark.parametrize("step", ["after_plan", "after_sign", "after_broadcast", "after_confirm", "before_mark_paid"])
async def test_a_crash_at_any_step_then_a_rerun_pays_each_provider_exactly_once(
    pool: asyncpg.Pool, conn: asyncpg.Connection, chain: PayoutChain, step: Step
) -> None:
    wallets = [await provider(conn, [str(10 + i), "0.5"], EARNED) for i in range(3)]
    wallets.append(await provider(conn, ["15"], EARNED))
    # Two recipients per transaction: the crash hits the first of two batches.
    small = 80_000 + 2 * 32_000
    with pytest.raises(Crash):
        await tracker(pool, chain, hook=crash_at(step), max_tx_gas=small).run(as_of=MONDAY)
    assert await conn.fetchval("SELECT count(*) FROM far_session_contributions WHERE paid_at IS NOT NULL") == 0

    report = await tracker(pool, chain, max_tx_gas=small).run(as_of=MONDAY + timedelta(minutes=5))
    assert report.planned_earlier and [b.status for b in report.batches] == ["confirmed", "confirmed"]
    expected = {w: far_to_wei(Decimal(10 + i) + Decimal("0.5")) for i, w in enumerate(wallets[:3])}
    expected[wallets[3]] = 15 * 10**18
    assert {w: chain.token_balance(w) for w in wallets} == expected
    assert await conn.fetchval("SELECT count(*) FROM far_session_contributions WHERE paid_at IS NULL") == 0
    await assert_books_balance(conn, chain, wallets)
    # One transaction per batch: the saved one was resent or followed, never a second payment attempt.
    counts = await conn.fetch("SELECT batch_id, count(*) FROM far_payment_transactions GROUP BY batch_id")
    assert [r["count"] for r in counts] == [1, 1]
    runs = [r["status"] for r in await conn.fetch("SELECT status FROM far_payout_runs ORDER BY started_at")]
    assert runs == ["failed", "completed"]
    # And a third run finds nothing to do.
    third = await tracker(pool, chain, max_tx_gas=small).run(as_of=MONDAY + timedelta(hours=1))
    assert third.batches == [] and {w: chain.token_balance(w) for w in wallets} == expected


def _approve(chain: PayoutChain, spender: str, amount: int, *, nonce: int | None = None) -> None:
    data = chain.token.encode_abi("approve", args=[spender, amount])
    signed = chain.sign_call(chain.token.address, data, gas=100_000, nonce=nonce)
    chain.wait_for_confirmations(chain.broadcast(signed), 1, timeout_s=30, poll_interval_s=0.01)


async def test_a_reverted_transaction_is_recorded_and_retried(
    pool: asyncpg.Pool, conn: asyncpg.Connection, chain_and_accounts: tuple[PayoutChain, list[LocalAccount]]
) -> None:
    chain, (mover, *_) = chain_and_accounts
    wallet = await provider(conn, ["25"], EARNED)
    payer_balance = chain.token_balance(chain.payer.address)
    _approve(chain, mover.address, 2**256 - 1)

    def mover_sends(function: str, args: list[object]) -> None:
        tx = {"to": chain.token.address, "data": chain.token.encode_abi(function, args=args), "gas": 100_000,
              "chainId": chain.chain_id, "value": 0, "nonce": chain.w3.eth.get_transaction_count(mover.address),
              **chain.current_fees().as_tx_fields()}
        raw = "0x" + bytes(mover.sign_transaction(tx).raw_transaction).hex()
        chain.wait_for_confirmations(chain.broadcast(raw), 1, timeout_s=30, poll_interval_s=0.01)

    drained: list[bool] = []

    def drain_after_signing(step: Step, batch: BatchRow | None) -> None:
        if step == "after_sign" and not drained:  # passed its dry run and is signed: now the payer's tokens go
            drained.append(True)
            mover_sends("transferFrom", [chain.payer.address, mover.address, payer_balance])

    report = await tracker(pool, chain, hook=drain_after_signing).run(as_of=MONDAY)
    [outcome] = report.batches
    assert outcome.status == "failed" and chain.token_balance(wallet) == 0
    txs = await conn.fetch("SELECT status, error FROM far_payment_transactions ORDER BY attempt")
    assert txs[0]["status"] == "reverted" and txs[0]["error"]
    batch = await conn.fetchrow("SELECT status, error FROM far_payment_batches")
    assert batch["status"] == "failed" and "would revert" in batch["error"]  # the same-run retry stopped at its dry run
    assert await conn.fetchval("SELECT count(*) FROM far_session_contributions WHERE payment_batch_id IS NULL") == 0

    mover_sends("transfer", [chain.payer.address, payer_balance])  # the operator tops the payer up
    retried = await tracker(pool, chain).run(as_of=MONDAY + timedelta(hours=1))
    assert [b.status for b in retried.batches] == ["confirmed"] and chain.token_balance(wallet) == 25 * 10**18
    statuses = [r["status"] for r in await conn.fetch("SELECT status FROM far_payment_transactions ORDER BY attempt")]
    assert statuses == ["reverted", "mined"]
    await assert_books_balance(conn, chain, [wallet])


async def test_a_lost_transaction_is_replaced_only_once_its_nonce_is_taken(
    pool: asyncpg.Pool, conn: asyncpg.Connection, chain: PayoutChain
) -> None:
    wallet = await provider(conn, ["30"], EARNED)
    with pytest.raises(Crash):
        await tracker(pool, chain, hook=crash_at("after_sign")).run(as_of=MONDAY)
    saved = await conn.fetchrow("SELECT nonce, tx_hash FROM far_payment_batches")
    # Another transaction of the payer takes that nonce: the saved one can never land.
    _approve(chain, chain.payout.address, 2**256 - 1, nonce=saved["nonce"])
    assert chain.mined_nonce() > saved["nonce"]

    report = await tracker(pool, chain).run(as_of=MONDAY + timedelta(minutes=1))
    assert [b.status for b in report.batches] == ["confirmed"] and report.batches[0].tx_hash != saved["tx_hash"]
    rows = await conn.fetch("SELECT tx_hash, status FROM far_payment_transactions ORDER BY attempt")
    txs = [(r["tx_hash"], r["status"]) for r in rows]
    assert txs[0] == (saved["tx_hash"], "lost") and txs[1][1] == "mined"
    assert chain.token_balance(wallet) == 30 * 10**18


async def test_an_open_batch_of_a_vanished_local_chain_is_paid_on_the_new_one(
    pool: asyncpg.Pool, conn: asyncpg.Connection, chain: PayoutChain
) -> None:
    wallet = await provider(conn, ["40"], EARNED)
    with pytest.raises(Crash):
        await tracker(pool, chain, hook=crash_at("after_sign"), instance="process-1").run(as_of=MONDAY)
    fresh, _ = local_chain()  # a restarted server's in-process chain: new contracts, nothing of the old one
    report = await tracker(pool, fresh, instance="process-2").run(as_of=MONDAY + timedelta(minutes=1))
    assert [b.status for b in report.batches] == ["confirmed"]
    assert fresh.token_balance(wallet) == 40 * 10**18
    # Same deterministic addresses, nonce and fees: the new chain got the very same signed bytes, now mined there.
    statuses = [r["status"] for r in await conn.fetch("SELECT status FROM far_payment_transactions ORDER BY attempt")]
    assert statuses[-1] == "mined" and set(statuses[:-1]) <= {"lost"}
    assert await conn.fetchval("SELECT chain_instance FROM far_payment_batches") == "process-2"


async def test_one_run_at_a_time(pool: asyncpg.Pool, conn: asyncpg.Connection, chain: PayoutChain) -> None:
    await provider(conn, ["50"], EARNED)
    await conn.execute("SELECT pg_advisory_lock($1)", PAYOUT_LOCK_ID)  # another replica is paying
    with pytest.raises(PayoutBusy):
        await tracker(pool, chain).run(as_of=MONDAY)
    await conn.execute("SELECT pg_advisory_unlock($1)", PAYOUT_LOCK_ID)
    assert await conn.fetchval("SELECT count(*) FROM far_payment_batches") == 0
    report = await tracker(pool, chain).run(as_of=MONDAY)
    assert [b.status for b in report.batches] == ["confirmed"]
    assert sum((await paid_wei_by_wallet(conn)).values()) == 50 * 10**18


def test_period_is_the_monday_of_the_week() -> None:
    assert period_start_of(datetime(2026, 12, 6, 23, 59, tzinfo=UTC)).isoformat() == "2026-11-30"
    assert period_start_of(MONDAY).isoformat() == "2026-11-30"


async def test_a_transaction_stuck_in_the_mempool_is_replaced_with_the_same_nonce(
    pool: asyncpg.Pool, conn: asyncpg.Connection, chain: PayoutChain
) -> None:
    wallet = await provider(conn, ["60"], EARNED)
    tester = chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    tester.disable_auto_mine_transactions()  # nothing gets mined: the transaction sits in the mempool
    impatient = TrackerConfig(network="local", confirmations=1, confirmation_timeout_s=0.3, poll_interval_s=0.02)
    first = await PayoutTracker(pool, chain, chain_instance="c", config=impatient).run(as_of=MONDAY)
    [stuck] = first.batches
    assert stuck.status == "broadcast" and stuck.error is not None and stuck.error.startswith("not confirmed in time")

    def mine_from_now_on(step: Step, batch: BatchRow | None) -> None:
        if step == "after_broadcast":  # the replacement is out: the chain moves again
            tester.enable_auto_mine_transactions()

    second = await PayoutTracker(pool, chain, chain_instance="c", config=impatient, hook=mine_from_now_on).run(
        as_of=MONDAY + timedelta(hours=1))
    assert [b.status for b in second.batches] == ["confirmed"] and second.batches[0].tx_hash != stuck.tx_hash
    rows = await conn.fetch("SELECT nonce, tx_hash, status, fees FROM far_payment_transactions ORDER BY attempt")
    assert [r["status"] for r in rows] == ["replaced", "mined"] and rows[0]["nonce"] == rows[1]["nonce"]
    old_fees, new_fees = (json.loads(r["fees"]) for r in rows)  # a bare connection reads JSONB as text
    assert int(new_fees["max_fee_per_gas"]) > int(old_fees["max_fee_per_gas"]) * 115 // 100
    assert chain.token_balance(wallet) == 60 * 10**18
    await assert_books_balance(conn, chain, [wallet])


async def test_chain_errors_are_recorded_without_the_rpc_urls_secrets(
    pool: asyncpg.Pool, conn: asyncpg.Connection, chain: PayoutChain, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A node that stops answering: the transport error quotes the URL, whose path is an API key."""
    from farlabs_server.payouts.chain import ChainError
    from farlabs_server.payouts.runtime import url_secrets
    from farlabs_server.settings import Settings

    await provider(conn, ["70"], EARNED)
    url = "https://bsc.example/v1/k3y-5ecret"

    def unreachable(signed: object) -> str:  # what chain.broadcast raises when requests cannot connect
        raise ChainError("broadcast refused: HTTPSConnectionPool(host='bsc.example', port=443): Max retries exceeded "
                         f"with url: /v1/k3y-5ecret (Caused by {url})")

    monkeypatch.setattr(chain, "broadcast", unreachable)
    secrets = url_secrets(Settings(payout_rpc_url=url))
    report = await PayoutTracker(pool, chain, chain_instance="c", config=TrackerConfig(poll_interval_s=0.01),
                                 secrets=secrets).run(as_of=MONDAY)
    [outcome] = report.batches
    assert outcome.status == "signed" and outcome.error is not None and "bsc.example" in outcome.error
    recorded = await conn.fetchval("SELECT error FROM far_payment_batches") + str(
        await conn.fetchval("SELECT error FROM far_payout_runs"))
    assert "5ecret" not in recorded + outcome.error + caplog.text
