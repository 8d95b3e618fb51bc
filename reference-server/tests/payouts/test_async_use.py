"""How the asyncio server drives the synchronous chain client: in worker threads, one call at a time per chain."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import anyio
import pytest

from farlabs_server.payouts.chain import PayoutChain, TxStatus
from farlabs_server.payouts.planner import Contribution, plan_payouts


@pytest.mark.anyio
async def test_pay_from_async_code_via_worker_threads(chain: PayoutChain) -> None:
    wallets = ["0x" + f"{i:040x}" for i in range(1, 4)]
    contributions = [Contribution(w, i, Decimal(10 + i)) for i, w in enumerate(wallets)]
    [batch] = plan_payouts(contributions, period_start=date(2026, 11, 23), chain_id=chain.chain_id).batches

    assert await anyio.to_thread.run_sync(chain.simulate_batch, batch.batch_id, batch.recipients, batch.amounts_wei) is None
    signed = await anyio.to_thread.run_sync(
        lambda: chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit)
    )
    tx_hash = await anyio.to_thread.run_sync(chain.broadcast, signed)
    seen = await anyio.to_thread.run_sync(lambda: chain.wait_for_confirmations(tx_hash, 1, timeout_s=60, poll_interval_s=0.01))
    assert seen.status is TxStatus.MINED

    balances: dict[str, int] = {}

    async def read(wallet: str) -> None:  # concurrent reads are serialized by the chain's lock
        balances[wallet] = await anyio.to_thread.run_sync(chain.token_balance, wallet)

    async with anyio.create_task_group() as group:
        for wallet in batch.recipients:
            group.start_soon(read, wallet)
    assert [balances[w] for w in batch.recipients] == batch.amounts_wei
