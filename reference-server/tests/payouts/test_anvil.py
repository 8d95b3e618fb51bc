"""The same contracts over real JSON-RPC, on anvil (npm `@foundry-rs/anvil`): the code path testnet and mainnet take."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from eth_account import Account

from farlabs_devtools.anvil import AnvilNode, find_anvil
from farlabs_server.payouts.anvil import ANVIL_TEST_KEY
from farlabs_server.payouts.chain import ChainError, PayoutChain, TxStatus
from farlabs_server.payouts.local import deploy_and_fund
from farlabs_server.payouts.network import connect
from farlabs_server.payouts.planner import Contribution, plan_payouts

ANVIL = find_anvil()
pytestmark = pytest.mark.skipif(ANVIL is None, reason="anvil not installed: run `npm install` at the repo root (@foundry-rs/anvil)")


@pytest.fixture
def anvil(tmp_path: Path) -> Iterator[AnvilNode]:
    assert ANVIL is not None
    with AnvilNode(ANVIL, state_path=tmp_path / "chain.json") as node:
        yield node


def _batch(chain: PayoutChain):  # type: ignore[no-untyped-def]
    wallets = [Account.from_key((9000 + i).to_bytes(32, "big")).address for i in range(4)]
    contributions = [Contribution(w, i, Decimal("10.5") + i) for i, w in enumerate(wallets)]
    [batch] = plan_payouts(contributions, period_start=date(2026, 11, 23), chain_id=chain.chain_id).batches
    return batch


def test_pay_refuse_and_survive_a_restart(anvil: AnvilNode) -> None:
    chain = deploy_and_fund(anvil.web3(), Account.from_key(ANVIL_TEST_KEY))
    chain.verify()
    batch = _batch(chain)
    assert anvil.url.startswith("http://127.0.0.1:")

    signed = chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit)
    paid = chain.wait_for_confirmations(chain.broadcast(signed), 1, timeout_s=60, poll_interval_s=0.02)
    assert paid.status is TxStatus.MINED
    assert [chain.token_balance(w) for w in batch.recipients] == batch.amounts_wei
    assert chain.next_nonce() == signed.nonce + 1

    assert chain.simulate_batch(batch.batch_id, batch.recipients, batch.amounts_wei) == (
        f"BatchAlreadyPaid(batchId={batch.batch_id_hex}, paidAtBlock={paid.block_number})"
    )
    again = chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit)
    refused = chain.wait_for_confirmations(chain.broadcast(again), 1, timeout_s=60, poll_interval_s=0.02)
    assert refused.status is TxStatus.REVERTED and refused.error is not None
    assert refused.error.startswith("BatchAlreadyPaid(")

    # A restart on the saved state: the payment and the contract's memory of the batch id remain.
    anvil.stop()
    assert anvil.state_path is not None
    with AnvilNode(anvil.binary, state_path=anvil.state_path) as restarted:
        reconnected = PayoutChain(restarted.web3(), chain.token.address, chain.payout.address, chain.payer)
        assert reconnected.lookup(signed.tx_hash).status is TxStatus.MINED
        assert reconnected.batch_paid_at_block(batch.batch_id) == paid.block_number
        assert [reconnected.token_balance(w) for w in batch.recipients] == batch.amounts_wei


def test_connect_verifies_chain_and_contracts(anvil: AnvilNode) -> None:
    payer = Account.from_key(ANVIL_TEST_KEY)
    deployed = deploy_and_fund(anvil.web3(), payer)
    addresses = {"token_address": deployed.token.address, "payout_address": deployed.payout.address}

    chain = connect(anvil.url + "/?apikey=SECRET", chain_id=31337, payer=payer, **addresses)
    assert chain.token_balance(payer.address) > 0 and chain.current_fees().max_fee_per_gas

    with pytest.raises(ChainError, match=r"on chain 31337 \(anvil\), not the configured 56") as wrong_chain:
        connect(anvil.url + "/?apikey=SECRET", chain_id=56, payer=payer, **addresses)
    assert "SECRET" not in str(wrong_chain.value)
    with pytest.raises(ChainError, match="does not own"):
        connect(anvil.url, chain_id=31337, payer=Account.from_key("0x" + "42" * 32), **addresses)
    with pytest.raises(ChainError, match="no contract"):
        connect(anvil.url, chain_id=31337, payer=payer, token_address="0x" + "99" * 20, payout_address=deployed.payout.address)
