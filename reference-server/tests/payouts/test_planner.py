import random
from datetime import date
from decimal import Decimal

import pytest
from eth_utils import to_checksum_address

from farlabs_server.payouts.planner import (
    DEFAULT_MAX_TX_GAS,
    Contribution,
    PlanError,
    batch_gas_limit,
    batch_id_for,
    plan_payouts,
)

WEEK = date(2026, 11, 23)
A = "0x" + "a1" * 20
B = "0x" + "b2" * 20
C = "0x" + "c3" * 20
FAR = 10**18


def plan(contributions, **kwargs):  # type: ignore[no-untyped-def]
    kwargs.setdefault("period_start", WEEK)
    kwargs.setdefault("chain_id", 56)
    return plan_payouts(contributions, **kwargs)


def test_groups_contributions_by_wallet_and_sums_exactly() -> None:
    contributions = [
        Contribution(A, "a1", Decimal("6.000000000000000001")),
        Contribution(B, "b1", Decimal("3")),
        Contribution(A, "a2", Decimal("4.000000000000000002")),
        Contribution(A.upper().replace("0X", "0x"), "a3", Decimal("0.000000000000000003")),  # same wallet, other case
    ]
    result = plan(contributions)
    [payee] = result.payees
    assert payee.wallet_address == to_checksum_address(A)
    assert payee.amount_wei == 10 * FAR + 6
    assert payee.amount_far == Decimal("10.000000000000000006")
    assert payee.contribution_ids == ("a1", "a2", "a3")
    assert result.contribution_count == 4
    assert result.total_owed_wei == 13 * FAR + 6


def test_threshold_is_inclusive_and_the_rest_is_carried_over() -> None:
    contributions = [
        Contribution(A, 1, Decimal("10")),  # exactly the minimum: paid
        Contribution(B, 2, Decimal("9.999999999999999999")),  # one wei short: carried
        Contribution(C, 3, Decimal("0.1")),
        Contribution(C, 4, Decimal("0.15")),
    ]
    result = plan(contributions)
    assert [p.wallet_address for p in result.payees] == [to_checksum_address(A)]
    carried = {p.wallet_address: p for p in result.carried_over}
    assert carried[to_checksum_address(B)].amount_wei == 10 * FAR - 1
    assert carried[to_checksum_address(C)].amount_wei == 25 * 10**16
    assert carried[to_checksum_address(C)].contribution_ids == (3, 4)
    assert result.total_paid_wei == 10 * FAR
    assert result.total_carried_wei == result.total_owed_wei - result.total_paid_wei


def test_minimum_is_configurable() -> None:
    contributions = [Contribution(C, 3, Decimal("0.1")), Contribution(C, 4, Decimal("0.15"))]
    assert plan(contributions).batches == ()
    [batch] = plan(contributions, minimum_far=Decimal("0.25")).batches
    assert batch.amounts_wei == [25 * 10**16]


def test_nothing_to_pay() -> None:
    result = plan([])
    assert result.batches == () and result.carried_over == () and result.total_owed_wei == 0


def test_plan_is_deterministic_and_independent_of_input_order() -> None:
    contributions = [Contribution(w, f"{w}-{i}", Decimal(i + 10)) for i, w in enumerate([A, B, C])]
    first = plan(contributions)
    second = plan(list(reversed(contributions)))
    assert [b.batch_id for b in first.batches] == [b.batch_id for b in second.batches]
    assert first.batches[0].recipients == sorted(first.batches[0].recipients, key=str.lower)


def test_batch_id_changes_with_period_chain_recipients_and_amounts() -> None:
    base = batch_id_for(WEEK, 56, [to_checksum_address(A)], [FAR])
    assert len(base) == 32
    assert base == batch_id_for(WEEK, 56, [to_checksum_address(A)], [FAR])
    assert base != batch_id_for(date(2026, 11, 30), 56, [to_checksum_address(A)], [FAR])
    assert base != batch_id_for(WEEK, 97, [to_checksum_address(A)], [FAR])
    assert base != batch_id_for(WEEK, 56, [to_checksum_address(B)], [FAR])
    assert base != batch_id_for(WEEK, 56, [to_checksum_address(A)], [FAR + 1])


def _wallet(i: int) -> str:
    return "0x" + f"{i + 1:040x}"


def test_chunks_respect_the_recipient_cap_and_are_balanced() -> None:
    contributions = [Contribution(_wallet(i), i, Decimal(20)) for i in range(23)]
    result = plan(contributions, max_recipients_per_batch=10)
    assert [len(b.payees) for b in result.batches] == [8, 8, 7]
    assert [b.chunk_index for b in result.batches] == [0, 1, 2]
    assert len({b.batch_id for b in result.batches}) == 3
    everyone = [r for b in result.batches for r in b.recipients]
    assert everyone == sorted(everyone, key=str.lower) and len(set(everyone)) == 23
    assert sum(b.total_wei for b in result.batches) == 23 * 20 * FAR


def test_chunks_respect_the_gas_cap() -> None:
    contributions = [Contribution(_wallet(i), i, Decimal(20)) for i in range(50)]
    cap = batch_gas_limit(12) + 1
    result = plan(contributions, max_tx_gas=cap)
    assert all(b.gas_limit <= cap for b in result.batches)
    assert len(result.batches) == 5  # ceil(50 / 12), balanced as 10 each
    assert [len(b.payees) for b in result.batches] == [10] * 5
    full = plan(contributions[:48], max_tx_gas=cap)
    assert [len(b.payees) for b in full.batches] == [12] * 4
    default = plan(contributions)
    assert len(default.batches) == 1 and default.batches[0].gas_limit <= DEFAULT_MAX_TX_GAS


def test_default_gas_cap_keeps_batches_well_under_a_block() -> None:
    contributions = [Contribution(_wallet(i), i, Decimal(11)) for i in range(1000)]
    result = plan(contributions)
    assert len(result.batches) > 1
    assert all(b.gas_limit <= DEFAULT_MAX_TX_GAS < 30_000_000 for b in result.batches)


def test_accepts_plain_tuples_and_int_or_string_amounts() -> None:
    result = plan([(A, "x", 10), (A, "y", "0.5")])
    assert result.payees[0].amount_wei == 10 * FAR + 5 * 10**17


@pytest.mark.parametrize(
    ("contribution", "message"),
    [
        ((A, 1, Decimal("0.0000000000000000001")), "whole number of wei"),
        ((A, 1, Decimal("-1")), "negative"),
        ((A, 1, 1.5), "Decimal, int or str"),
        ((A, 1, Decimal("NaN")), "finite"),
        (("0x1234", 1, Decimal(1)), "not a wallet address"),
        ((None, 1, Decimal(1)), "not a wallet address"),
        (("0x" + "0" * 40, 1, Decimal(1)), "zero address"),
        # a valid checksum address with one letter's case flipped
        (("0x" + "a1" * 19 + "A1", 1, Decimal(1)), "checksum"),
    ],
)
def test_bad_input_is_refused_with_the_contribution_named(contribution: tuple, message: str) -> None:
    with pytest.raises(PlanError, match=message) as caught:
        plan([contribution])
    assert "contribution 1" in str(caught.value)


def test_duplicate_contribution_ids_are_refused() -> None:
    with pytest.raises(PlanError, match="appears twice"):
        plan([(A, "same", Decimal(5)), (B, "same", Decimal(5))])
    with pytest.raises(PlanError, match="a contribution id appears twice"):
        plan(iter([(A, "once", Decimal(5)), (A, "same", Decimal(5)), (B, "same", Decimal(5))]))  # one pass only


@pytest.mark.parametrize("minimum", [Decimal(0), Decimal("-1"), Decimal("1e-19")])
def test_bad_minimum_is_refused(minimum: Decimal) -> None:
    with pytest.raises(PlanError, match="minimum"):
        plan([], minimum_far=minimum)


def test_bad_limits_are_refused() -> None:
    with pytest.raises(PlanError, match="max_recipients_per_batch"):
        plan([], max_recipients_per_batch=0)
    with pytest.raises(PlanError, match="max_tx_gas"):
        plan([], max_tx_gas=50_000)
    with pytest.raises(PlanError, match="gas_per_recipient"):
        plan([], gas_per_recipient=0)


def test_gas_per_recipient_sizes_batches_for_a_costlier_token() -> None:
    contributions = [Contribution(_wallet(i), i, Decimal(20)) for i in range(10)]
    cap = batch_gas_limit(5, 100_000)
    result = plan(contributions, max_tx_gas=cap, gas_per_recipient=100_000)
    assert [len(b.payees) for b in result.batches] == [5, 5]
    assert all(b.gas_limit == cap for b in result.batches)


def test_every_wei_and_every_contribution_is_accounted_for_once() -> None:
    rng = random.Random(3)
    wallets = [_wallet(i) for i in range(300)]
    contributions = [
        Contribution(rng.choice(wallets), f"c{i}", Decimal(rng.randrange(1, 5 * 10**19)).scaleb(-18)) for i in range(3000)
    ]
    result = plan(contributions, max_recipients_per_batch=50)
    owed = sum(int(c.amount_far.scaleb(18)) for c in contributions)
    assert result.total_paid_wei + result.total_carried_wei == result.total_owed_wei == owed
    ids = [i for p in result.payees + list(result.carried_over) for i in p.contribution_ids]
    assert sorted(ids) == sorted(c.contribution_id for c in contributions)
    assert all(p.amount_wei >= 10 * FAR for p in result.payees)
    assert all(p.amount_wei < 10 * FAR for p in result.carried_over)
    assert len(result.batches) == -(-len(result.payees) // 50)
