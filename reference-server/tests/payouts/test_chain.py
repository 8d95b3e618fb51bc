"""The payout contracts on a real (in-process) EVM, driven through PayoutChain."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from farlabs_server.payouts.chain import ChainError, ConfirmationTimeout, Fees, PayoutChain, TxStatus, replacement_fees
from farlabs_server.payouts.planner import Contribution, batch_gas_limit, plan_payouts

WEEK = date(2026, 11, 23)
FAR = 10**18


def _wallets(n: int, seed: int = 1) -> list[str]:
    return [Account.from_key((seed * 1000 + i + 1).to_bytes(32, "big")).address for i in range(n)]


def _plan(chain: PayoutChain, wallets: list[str], amounts: list[str], **kwargs: object):  # type: ignore[no-untyped-def]
    contributions = [Contribution(w, i, Decimal(a)) for i, (w, a) in enumerate(zip(wallets, amounts, strict=True))]
    return plan_payouts(contributions, period_start=WEEK, chain_id=chain.chain_id, **kwargs)  # type: ignore[arg-type]


def test_local_chain_is_deployed_and_consistent(chain: PayoutChain) -> None:
    chain.verify()
    assert chain.payout.functions.token().call() == chain.token.address
    assert chain.token.functions.decimals().call() == 18
    assert chain.allowance() == 2**256 - 1


def test_pays_a_planned_batch_to_the_wei(chain: PayoutChain, txs: type) -> None:
    wallets = _wallets(5)
    amounts = ["10", "12.5", "10.000000000000000001", "99.999999999999999999", "1234.567890123456789012"]
    plan = _plan(chain, wallets, amounts)
    [batch] = plan.batches
    payer_before = chain.token_balance(chain.payer.address)

    signed = chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit)
    assert chain.lookup(signed.tx_hash).status is TxStatus.UNKNOWN  # signed, not sent
    seen = txs.mined(chain, signed)

    assert seen.gas_used is not None and seen.gas_used <= batch.gas_limit
    for payee in batch.payees:
        assert chain.token_balance(payee.wallet_address) == payee.amount_wei
    assert payer_before - chain.token_balance(chain.payer.address) == plan.total_paid_wei == batch.total_wei
    assert chain.batch_paid_at_block(batch.batch_id) == seen.block_number

    [event] = chain.payout.events.BatchPaid().get_logs(from_block=seen.block_number, to_block=seen.block_number)
    assert event["args"]["batchId"] == batch.batch_id
    assert event["args"]["recipientCount"] == 5
    assert event["args"]["totalAmount"] == batch.total_wei


def test_the_same_batch_id_is_refused_and_the_revert_is_detected(chain: PayoutChain, txs: type) -> None:
    wallets = _wallets(3)
    [batch] = _plan(chain, wallets, ["10", "20", "30"]).batches
    first = txs.mined(chain, chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit))

    again = chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit)
    seen = txs.send_and_confirm(chain, again)
    assert seen.status is TxStatus.REVERTED
    assert seen.error is not None and seen.error.startswith("BatchAlreadyPaid(")
    assert f"paidAtBlock={first.block_number}" in seen.error
    assert chain.lookup(again.tx_hash) == seen  # looking it up later says the same
    for wallet, amount in zip(batch.recipients, batch.amounts_wei, strict=True):
        assert chain.token_balance(wallet) == amount  # paid once, not twice


def test_only_the_owner_may_pay(chain: PayoutChain, others: list[LocalAccount], txs: type) -> None:
    intruder = PayoutChain(chain.w3, chain.token.address, chain.payout.address, others[0])
    with pytest.raises(ChainError, match="does not own"):
        intruder.verify()
    [batch] = _plan(chain, _wallets(2), ["10", "10"]).batches

    assert intruder.simulate_batch(batch.batch_id, batch.recipients, batch.amounts_wei) == "NotOwner()"
    assert chain.simulate_batch(batch.batch_id, batch.recipients, batch.amounts_wei) is None

    signed = intruder.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit)
    seen = txs.send_and_confirm(intruder, signed)
    assert seen.status is TxStatus.REVERTED and seen.error == "NotOwner()"
    assert chain.batch_paid_at_block(batch.batch_id) is None  # the id is not burnt
    txs.mined(chain, chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit))


@pytest.mark.parametrize(
    ("recipients", "amounts", "error"),
    [
        ([], [], "EmptyBatch()"),
        (["0x" + "11" * 20], [1, 2], "LengthMismatch(recipients=1, amounts=2)"),
        (["0x" + "11" * 20, "0x" + "00" * 20], [1, 2], "ZeroRecipient(index=1)"),
        (["0x" + "11" * 20], [0], "ZeroAmount(index=0)"),
    ],
)
def test_malformed_batches_revert(chain: PayoutChain, recipients: list[str], amounts: list[int], error: str) -> None:
    assert chain.simulate_batch(b"\x01" * 32, recipients, amounts) == error


def test_a_batch_beyond_the_allowance_reverts_whole_with_the_tokens_reason(chain: PayoutChain, txs: type) -> None:
    txs.mined(chain, chain.sign_approval(15 * FAR))
    [batch] = _plan(chain, _wallets(2, seed=3), ["10", "10"]).batches
    seen = txs.send_and_confirm(chain, chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit))
    assert seen.status is TxStatus.REVERTED
    assert seen.error is not None and seen.error.startswith("InsufficientAllowance(")
    assert [chain.token_balance(w) for w in batch.recipients] == [0, 0]  # all or nothing
    assert chain.batch_paid_at_block(batch.batch_id) is None  # a reverted batch can be retried
    txs.mined(chain, chain.sign_approval())
    txs.mined(chain, chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit))
    assert [chain.token_balance(w) for w in batch.recipients] == [10 * FAR, 10 * FAR]


def test_several_chunks_pay_everyone_exactly_once(chain: PayoutChain, txs: type) -> None:
    wallets = _wallets(7, seed=4)
    plan = _plan(chain, wallets, [str(10 + i) for i in range(7)], max_recipients_per_batch=3)
    assert len(plan.batches) == 3
    for batch in plan.batches:
        txs.mined(chain, chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit))
    assert sum(chain.token_balance(w) for w in wallets) == plan.total_paid_wei == sum(10 + i for i in range(7)) * FAR


def test_pending_then_mined_then_confirmed(chain: PayoutChain) -> None:
    tester = chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    tester.disable_auto_mine_transactions()
    [batch] = _plan(chain, _wallets(1, seed=5), ["10"]).batches
    signed = chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit)
    assert chain.broadcast(signed) == signed.tx_hash
    assert chain.lookup(signed.tx_hash).status is TxStatus.PENDING

    with pytest.raises(ConfirmationTimeout) as waited:
        chain.wait_for_confirmations(signed.tx_hash, 1, timeout_s=0, poll_interval_s=0)
    assert waited.value.last.status is TxStatus.PENDING

    tester.mine_blocks(1)
    seen = chain.lookup(signed.tx_hash)
    assert (seen.status, seen.confirmations) == (TxStatus.MINED, 1)
    tester.mine_blocks(2)
    deep = chain.wait_for_confirmations(signed.tx_hash, 3, timeout_s=0, poll_interval_s=0)
    assert (deep.status, deep.confirmations, deep.block_number) == (TxStatus.MINED, 3, seen.block_number)


def test_wait_polls_until_enough_confirmations(chain: PayoutChain) -> None:
    tester = chain.w3.provider.ethereum_tester  # type: ignore[attr-defined]
    [batch] = _plan(chain, _wallets(1, seed=6), ["10"]).batches
    tx_hash = chain.broadcast(chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit))
    polls: list[float] = []

    def mine_one_block(seconds: float) -> None:  # stands in for time passing on a real chain
        polls.append(seconds)
        tester.mine_blocks(1)

    seen = chain.wait_for_confirmations(tx_hash, 4, timeout_s=60, poll_interval_s=0.5, sleep=mine_one_block)
    assert seen.confirmations == 4 and polls == [0.5, 0.5, 0.5]


def test_unknown_hash_and_rebroadcast(chain: PayoutChain, txs: type) -> None:
    assert chain.lookup("0x" + "ab" * 32).status is TxStatus.UNKNOWN
    [batch] = _plan(chain, _wallets(1, seed=7), ["10"]).batches
    signed = chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit)
    txs.mined(chain, signed)
    with pytest.raises(ChainError, match="broadcast refused"):
        chain.broadcast(signed)  # its nonce is used: the caller must look it up, not resend
    assert chain.lookup(signed.tx_hash).status is TxStatus.MINED


def test_same_nonce_replacement_fees() -> None:
    old = Fees(max_fee_per_gas=100, max_priority_fee_per_gas=10)
    assert replacement_fees(old, Fees(max_fee_per_gas=50, max_priority_fee_per_gas=5)) == Fees(116, 12)
    assert replacement_fees(old, Fees(max_fee_per_gas=500, max_priority_fee_per_gas=50)) == Fees(500, 50)
    assert replacement_fees(Fees(gas_price=100), Fees(gas_price=90)) == Fees(gas_price=116)


def test_ownership_moves_in_two_steps(chain: PayoutChain, others: list[LocalAccount], txs: type) -> None:
    successor = PayoutChain(chain.w3, chain.token.address, chain.payout.address, others[1])
    txs.mined(
        chain,
        chain.sign_call(chain.payout.address, chain.payout.encode_abi("transferOwnership", args=[others[1].address]), gas=80_000),
    )
    assert chain.payout.functions.owner().call() == chain.payer.address  # not yet
    accept = chain.payout.encode_abi("acceptOwnership", args=[])
    stranger = txs.send_and_confirm(chain, chain.sign_call(chain.payout.address, accept, gas=80_000))
    assert stranger.error == "NotPendingOwner()"
    txs.mined(successor, successor.sign_call(chain.payout.address, accept, gas=80_000))
    assert chain.payout.functions.owner().call() == others[1].address


def test_gas_limit_covers_the_worst_case(chain: PayoutChain, txs: type) -> None:
    """A finite allowance and all-new recipients is the costliest batch; the planner's limit must cover it."""
    txs.mined(chain, chain.sign_approval(10**30))
    [batch] = _plan(chain, _wallets(40, seed=8), ["10"] * 40).batches
    seen = txs.mined(chain, chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch_gas_limit(40)))
    assert seen.gas_used is not None and seen.gas_used < batch.gas_limit


def test_a_lost_signed_batch_is_proven_dead_once_its_nonce_is_taken(chain: PayoutChain, txs: type) -> None:
    """The reconciliation rule: an unknown hash may be replaced only after its nonce is used by a mined tx."""
    [batch] = _plan(chain, _wallets(2, seed=9), ["10", "11"]).batches
    lost = chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit)
    assert chain.lookup(lost.tx_hash).status is TxStatus.UNKNOWN
    assert chain.mined_nonce() == lost.nonce  # not proven: the lost tx could still land

    replacement = chain.sign_batch(batch.batch_id, batch.recipients, batch.amounts_wei, gas=batch.gas_limit + 1, nonce=lost.nonce)
    assert replacement.tx_hash != lost.tx_hash
    txs.mined(chain, replacement)
    assert chain.mined_nonce() > lost.nonce  # proven: the lost tx can never land now
    assert chain.lookup(lost.tx_hash).status is TxStatus.UNKNOWN
    with pytest.raises(ChainError):
        chain.broadcast(lost)
    assert [chain.token_balance(w) for w in batch.recipients] == batch.amounts_wei
