"""Plan a payout run: unpaid contributions -> who gets paid, in which batches, and who waits.

A pure function of its input: the same contributions, period, chain and limits always give the same
plan, batch ids included. Amounts are summed in wei (`int`), never in `Decimal` arithmetic, whose
context precision (28 digits by default) could round a large total.
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, NamedTuple

from eth_abi.abi import encode
from eth_utils.address import to_checksum_address
from eth_utils.crypto import keccak

from .amounts import WEI_PER_FAR, AmountError, far_to_wei, wei_to_far

DEFAULT_MINIMUM_FAR = Decimal(10)  # the plan's minimum payout; smaller balances wait for next week

# Gas of FarBatchPayout.payBatch measured on the local EVM by bench/payouts (worst case: every
# recipient new to the token, so each costs a zero-to-nonzero storage write), with headroom.
BATCH_BASE_GAS = 80_000  # intrinsic 21k + batch-id write + event + first cold accesses (measured ~61.5k)
GAS_PER_NEW_RECIPIENT = 32_000  # measured ~27.5k per new recipient with a finite allowance (+16 %)
# Keep each transaction to a third of a 30M-gas block so it is included promptly.
DEFAULT_MAX_TX_GAS = 10_000_000

BATCH_ID_DOMAIN = "FarMesh payout v1"
_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class PlanError(ValueError):
    """Input that cannot be planned safely (a bad wallet, amount or duplicate contribution)."""


class Contribution(NamedTuple):
    """One unpaid contribution of a provider's node, as read from the database."""

    wallet_address: str
    contribution_id: Hashable
    amount_far: Decimal


@dataclass(frozen=True)
class Payee:
    """One wallet's total over its contributions."""

    wallet_address: str  # EIP-55 checksummed
    amount_wei: int
    contribution_ids: tuple[Hashable, ...]

    @property
    def amount_far(self) -> Decimal:
        return wei_to_far(self.amount_wei)


@dataclass(frozen=True)
class PlannedBatch:
    """One on-chain transaction: `payBatch(batch_id, recipients, amounts_wei)`."""

    batch_id: bytes
    chunk_index: int
    payees: tuple[Payee, ...]
    gas_limit: int

    @property
    def batch_id_hex(self) -> str:
        return "0x" + self.batch_id.hex()

    @property
    def recipients(self) -> list[str]:
        return [p.wallet_address for p in self.payees]

    @property
    def amounts_wei(self) -> list[int]:
        return [p.amount_wei for p in self.payees]

    @property
    def total_wei(self) -> int:
        return sum(p.amount_wei for p in self.payees)


@dataclass(frozen=True)
class PayoutPlan:
    """Everything one run will do: the batches to pay and the balances carried to the next period."""

    period_start: date
    chain_id: int
    minimum_wei: int
    batches: tuple[PlannedBatch, ...]
    carried_over: tuple[Payee, ...]
    total_owed_wei: int
    contribution_count: int

    @property
    def payees(self) -> list[Payee]:
        return [p for batch in self.batches for p in batch.payees]

    @property
    def total_paid_wei(self) -> int:
        return sum(batch.total_wei for batch in self.batches)

    @property
    def total_carried_wei(self) -> int:
        return sum(p.amount_wei for p in self.carried_over)


def plan_payouts(
    contributions: Iterable[tuple[str, Hashable, Decimal]],
    *,
    period_start: date,
    chain_id: int,
    minimum_far: Decimal = DEFAULT_MINIMUM_FAR,
    max_tx_gas: int = DEFAULT_MAX_TX_GAS,
    max_recipients_per_batch: int | None = None,
    gas_per_recipient: int = GAS_PER_NEW_RECIPIENT,
) -> PayoutPlan:
    """Group unpaid contributions by wallet and split the wallets owed at least `minimum_far` into batches.

    `contributions` are `(wallet_address, contribution_id, amount_far)` tuples (e.g. `Contribution`).
    Wallets are compared case-insensitively; a mixed-case address must carry a valid EIP-55 checksum.
    Wallets below the minimum are carried over untouched. Batches hold recipients in address order and
    are sized so each transaction's gas limit stays within `max_tx_gas` (and `max_recipients_per_batch`,
    if given); `gas_per_recipient` is the worst-case gas of one recipient (measure it for a token other
    than FarToken). Raises `PlanError` on a malformed wallet, a negative or sub-wei amount, or a repeated id.
    """
    minimum_wei = _minimum_wei(minimum_far)
    if gas_per_recipient < 1:
        raise PlanError("gas_per_recipient must be positive")
    per_batch = _recipients_per_batch(max_tx_gas, max_recipients_per_batch, gas_per_recipient)
    if not isinstance(period_start, date):
        raise PlanError("period_start must be a date")

    wallet_keys: dict[str, str] = {}  # as given -> lowercase; validates each distinct spelling once
    owed: dict[str, list[Any]] = {}  # lowercase wallet -> [wei, [contribution ids]]
    seen_ids: set[Hashable] = set()
    remember_id = seen_ids.add
    count = 0
    # The hot loop of a 1M-contribution week: locals only, a try for the rare bad amount.
    for wallet, contribution_id, amount in contributions:
        key = wallet_keys.get(wallet)
        if key is None:
            key = wallet_keys[wallet] = _wallet_key(wallet, contribution_id)
        try:
            if type(amount) is not Decimal:
                raise TypeError
            numerator, denominator = amount.as_integer_ratio()  # ValueError/OverflowError on NaN/inf
            wei, remainder = divmod(numerator * WEI_PER_FAR, denominator)
            if remainder or wei < 0:
                raise ValueError
        except (TypeError, ValueError, OverflowError):
            wei = _checked_wei(amount, contribution_id)  # converts an int/str, or raises with the reason
        remember_id(contribution_id)
        count += 1
        entry = owed.get(key)
        if entry is None:
            owed[key] = [wei, [contribution_id]]
        else:
            entry[0] += wei
            entry[1].append(contribution_id)
    if len(seen_ids) != count:  # found after the loop, so the loop stays cheap; a rerun names the id
        duplicate = _first_duplicate(contributions)
        raise PlanError(f"contribution {duplicate!r} appears twice" if duplicate is not None else "a contribution id appears twice")

    paid: list[Payee] = []
    carried: list[Payee] = []
    for key in sorted(owed):
        wei, ids = owed[key]
        payee = Payee(to_checksum_address(key), wei, tuple(ids))
        (paid if wei >= minimum_wei else carried).append(payee)

    batches = tuple(
        _batch(period_start, chain_id, index, tuple(chunk), gas_per_recipient)
        for index, chunk in enumerate(_balanced_chunks(paid, per_batch))
    )
    plan = PayoutPlan(
        period_start=period_start,
        chain_id=chain_id,
        minimum_wei=minimum_wei,
        batches=batches,
        carried_over=tuple(carried),
        total_owed_wei=sum(entry[0] for entry in owed.values()),
        contribution_count=count,
    )
    if plan.total_paid_wei + plan.total_carried_wei != plan.total_owed_wei:  # cannot happen; money checks stay on
        raise PlanError("planned payouts do not add up to what is owed")
    return plan


def batch_id_for(period_start: date, chain_id: int, recipients: list[str], amounts_wei: list[int]) -> bytes:
    """The deterministic on-chain id of a batch: keccak256 of its ABI-encoded period, chain and payments.

    The chain id keeps a testnet rehearsal and the mainnet run of the same week apart.
    """
    encoded = encode(
        ["string", "uint256", "string", "address[]", "uint256[]"],
        [BATCH_ID_DOMAIN, chain_id, period_start.isoformat(), recipients, amounts_wei],
    )
    return keccak(encoded)


def batch_gas_limit(recipient_count: int, gas_per_recipient: int = GAS_PER_NEW_RECIPIENT) -> int:
    """The gas limit given to a batch of `recipient_count` recipients (worst case, with headroom)."""
    return BATCH_BASE_GAS + gas_per_recipient * recipient_count


def _batch(period_start: date, chain_id: int, index: int, payees: tuple[Payee, ...], gas_per_recipient: int) -> PlannedBatch:
    batch_id = batch_id_for(period_start, chain_id, [p.wallet_address for p in payees], [p.amount_wei for p in payees])
    return PlannedBatch(batch_id, index, payees, batch_gas_limit(len(payees), gas_per_recipient))


def _balanced_chunks(payees: list[Payee], per_batch: int) -> list[list[Payee]]:
    """Split into the fewest chunks of at most `per_batch`, sizes differing by at most one."""
    if not payees:
        return []
    chunk_count = -(-len(payees) // per_batch)
    size, extra = divmod(len(payees), chunk_count)
    chunks, start = [], 0
    for index in range(chunk_count):
        end = start + size + (1 if index < extra else 0)
        chunks.append(payees[start:end])
        start = end
    return chunks


def _recipients_per_batch(max_tx_gas: int, max_recipients: int | None, gas_per_recipient: int) -> int:
    by_gas = (max_tx_gas - BATCH_BASE_GAS) // gas_per_recipient
    if by_gas < 1:
        needed = batch_gas_limit(1, gas_per_recipient)
        raise PlanError(f"max_tx_gas {max_tx_gas} cannot fit even one recipient ({needed} gas)")
    if max_recipients is not None and max_recipients < 1:
        raise PlanError("max_recipients_per_batch must be at least 1")
    return min(by_gas, max_recipients) if max_recipients is not None else by_gas


def _minimum_wei(minimum_far: Decimal) -> int:
    try:
        minimum_wei = far_to_wei(minimum_far)
    except AmountError as error:
        raise PlanError(f"bad minimum payout: {error}") from None
    if minimum_wei == 0:
        raise PlanError("the minimum payout must be more than 0 FAR (zero-amount transfers are refused on chain)")
    return minimum_wei


def _first_duplicate(contributions: Iterable[tuple[str, Hashable, Decimal]]) -> Hashable:
    seen: set[Hashable] = set()
    for _, contribution_id, _ in contributions:
        if contribution_id in seen:
            return contribution_id
        seen.add(contribution_id)
    return None


def _checked_wei(amount: object, contribution_id: Hashable) -> int:
    try:
        return far_to_wei(amount)  # type: ignore[arg-type]
    except AmountError as error:
        raise PlanError(f"contribution {contribution_id!r}: {error}") from None


def _wallet_key(wallet: object, contribution_id: Hashable) -> str:
    if not isinstance(wallet, str) or not _ADDRESS.fullmatch(wallet):
        raise PlanError(f"contribution {contribution_id!r}: not a wallet address: {wallet!r}")
    key = wallet.lower()
    if wallet not in (key, "0x" + wallet[2:].upper()) and to_checksum_address(key) != wallet:
        raise PlanError(f"contribution {contribution_id!r}: wallet {wallet} has a bad EIP-55 checksum (a typo?)")
    if int(key, 16) == 0:
        raise PlanError(f"contribution {contribution_id!r}: the zero address cannot be paid")
    return key
