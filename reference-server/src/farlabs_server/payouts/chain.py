"""The payer's view of the chain: sign a batch, broadcast it, look it up, wait for confirmations.

Synchronous web3 (8.x): one implementation serves the in-process local EVM, anvil and JSON-RPC
networks alike. The server is asyncio, so call these methods from a worker thread, e.g.
`await anyio.to_thread.run_sync(chain.lookup, tx_hash)`. Calls on one `PayoutChain` are serialized
by a lock (the in-process EVM is not thread-safe); the payout job runs one batch at a time anyway.

Every transaction carries an explicit gas limit (from the planner's measured gas per recipient),
nonce, chain id and fees: nothing is estimated (py-evm's estimation is slow, and an estimate that
fails hides why). `simulate_batch` says before signing whether a batch would revert, and why.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from functools import wraps
from typing import Any, ParamSpec, TypeVar

from eth_account.signers.local import LocalAccount
from hexbytes import HexBytes
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import TransactionNotFound

from .contracts import decode_revert, load_artifact, revert_data

P = ParamSpec("P")
R = TypeVar("R")


class ChainError(RuntimeError):
    """The chain refused or could not answer a request."""


class ConfirmationTimeout(ChainError):
    """A transaction did not reach the wanted confirmations in time; `last` is what was seen."""

    def __init__(self, message: str, last: TxLookup) -> None:
        super().__init__(message)
        self.last = last


class TxStatus(StrEnum):
    """Where a transaction stands, as far as the connected node knows."""

    PENDING = "pending"  # known to the node, not in a block yet
    MINED = "mined"  # in a block, executed successfully
    REVERTED = "reverted"  # in a block, execution reverted (the nonce is used, nothing was paid)
    UNKNOWN = "unknown"  # the node has never seen it (never sent, dropped, or not yet propagated)


@dataclass(frozen=True)
class TxLookup:
    """The result of looking a transaction up by hash."""

    tx_hash: str
    status: TxStatus
    block_number: int | None = None
    confirmations: int = 0  # 1 when in the newest block
    gas_used: int | None = None
    error: str | None = None  # decoded revert reason, when reverted


@dataclass(frozen=True)
class Fees:
    """Fee fields of a transaction: EIP-1559 (`max_fee_per_gas` set) or legacy (`gas_price` set)."""

    max_fee_per_gas: int | None = None
    max_priority_fee_per_gas: int | None = None
    gas_price: int | None = None

    def bumped(self, percent: int = 15) -> Fees:
        """Fees for a same-nonce replacement; nodes demand at least +10 % on every fee field."""

        def bump(value: int | None) -> int | None:
            return None if value is None else value * (100 + percent) // 100 + 1

        return Fees(bump(self.max_fee_per_gas), bump(self.max_priority_fee_per_gas), bump(self.gas_price))

    def as_tx_fields(self) -> dict[str, int]:
        if self.max_fee_per_gas is not None:
            return {"maxFeePerGas": self.max_fee_per_gas, "maxPriorityFeePerGas": self.max_priority_fee_per_gas or 0}
        if self.gas_price is None:
            raise ValueError("Fees needs either max_fee_per_gas or gas_price")
        return {"gasPrice": self.gas_price}


@dataclass(frozen=True)
class SignedTx:
    """A signed transaction, ready to store (before broadcasting) and to send."""

    tx_hash: str  # 0x + 64 lowercase hex
    raw_tx: str  # 0x-hex of the signed envelope
    nonce: int
    gas: int
    chain_id: int
    fees: Fees


def _serialized(method: Callable[P, R]) -> Callable[P, R]:
    @wraps(method)
    def locked(*args: P.args, **kwargs: P.kwargs) -> R:
        with args[0]._lock:  # type: ignore[attr-defined]
            return method(*args, **kwargs)

    return locked


class PayoutChain:
    """A connected network with the $FAR token, the batch payout contract and the payer's key."""

    def __init__(self, w3: Web3, token_address: str, payout_address: str, payer: LocalAccount) -> None:
        self.w3 = w3
        self.payer = payer
        self.chain_id: int = w3.eth.chain_id
        self.token: Contract = w3.eth.contract(address=Web3.to_checksum_address(token_address), abi=load_artifact("FarToken").abi)
        self.payout: Contract = w3.eth.contract(
            address=Web3.to_checksum_address(payout_address), abi=load_artifact("FarBatchPayout").abi
        )
        self._lock = threading.RLock()

    def __repr__(self) -> str:  # never shows the key
        return f"PayoutChain(chain_id={self.chain_id}, payout={self.payout.address}, payer={self.payer.address})"

    # ------------------------------------------------------------------ checks and reads
    @_serialized
    def verify(self) -> None:
        """Fail loudly unless both contracts exist, belong together, and the payer owns the payout contract."""
        for label, contract in (("token", self.token), ("payout", self.payout)):
            if len(self.w3.eth.get_code(contract.address)) == 0:
                raise ChainError(f"no contract at the {label} address {contract.address} on chain {self.chain_id}")
        paid_token = self.payout.functions.token().call()
        if paid_token != self.token.address:
            raise ChainError(f"the payout contract pays token {paid_token}, not {self.token.address}")
        owner = self.payout.functions.owner().call()
        if owner != self.payer.address:
            raise ChainError(f"the payer {self.payer.address} does not own the payout contract (owner {owner})")

    @_serialized
    def token_balance(self, address: str) -> int:
        """Token balance of `address`, in wei."""
        return int(self.token.functions.balanceOf(Web3.to_checksum_address(address)).call())

    @_serialized
    def allowance(self) -> int:
        """How many wei the payout contract may still move from the payer."""
        return int(self.token.functions.allowance(self.payer.address, self.payout.address).call())

    @_serialized
    def native_balance(self, address: str) -> int:
        """Balance of the chain's own coin (pays for gas), in wei."""
        return int(self.w3.eth.get_balance(Web3.to_checksum_address(address)))

    @_serialized
    def batch_paid_at_block(self, batch_id: bytes) -> int | None:
        """The block in which `batch_id` was paid, or None: the contract's own record, final once confirmed."""
        block = int(self.payout.functions.paidAtBlock(_bytes32(batch_id)).call())
        return block or None

    @_serialized
    def next_nonce(self) -> int:
        """The payer's next nonce, counting its pending transactions (JSON-RPC nodes do; eth-tester counts mined only)."""
        return int(self.w3.eth.get_transaction_count(self.payer.address, "pending"))

    @_serialized
    def mined_nonce(self, block: int | str = "latest") -> int:
        """How many of the payer's transactions are in blocks up to `block`.

        A signed transaction with nonce < this can never land any more unless it already has: with
        `block` = a confirmed block number and its hash unknown, it is safe to plan a replacement.
        """
        return int(self.w3.eth.get_transaction_count(self.payer.address, block))  # type: ignore[arg-type]

    @_serialized
    def current_fees(self, priority_fee_wei: int | None = None) -> Fees:
        """Fees that should land soon: EIP-1559 where the chain has a base fee, legacy gas price otherwise."""
        base_fee = self.w3.eth.get_block("latest").get("baseFeePerGas")
        if base_fee is None:
            return Fees(gas_price=int(self.w3.eth.gas_price))
        if priority_fee_wei is not None:
            priority = priority_fee_wei
        else:
            try:
                priority = int(self.w3.eth.max_priority_fee)
            except Exception:  # nodes without eth_maxPriorityFeePerGas: tip what the legacy price adds
                priority = max(int(self.w3.eth.gas_price) - int(base_fee), 0)
        return Fees(max_fee_per_gas=2 * int(base_fee) + priority, max_priority_fee_per_gas=priority)

    # ------------------------------------------------------------------ sign and send
    def sign_batch(
        self,
        batch_id: bytes,
        recipients: Sequence[str],
        amounts_wei: Sequence[int],
        *,
        gas: int,
        nonce: int | None = None,
        fees: Fees | None = None,
    ) -> SignedTx:
        """Sign `payBatch(batch_id, recipients, amounts_wei)`; store the result before broadcasting it."""
        if len(recipients) != len(amounts_wei) or not recipients:
            raise ValueError("a batch needs as many amounts as recipients, and at least one")
        data = self.payout.encode_abi(
            "payBatch",
            args=[_bytes32(batch_id), [Web3.to_checksum_address(r) for r in recipients], list(amounts_wei)],
        )
        return self.sign_call(self.payout.address, data, gas=gas, nonce=nonce, fees=fees)

    def sign_approval(self, amount_wei: int = 2**256 - 1, *, gas: int = 60_000) -> SignedTx:
        """Sign the payer's approval letting the payout contract spend `amount_wei` of its tokens."""
        data = self.token.encode_abi("approve", args=[self.payout.address, amount_wei])
        return self.sign_call(self.token.address, data, gas=gas)

    def sign_call(self, to: str, data: str, *, gas: int, nonce: int | None = None, fees: Fees | None = None) -> SignedTx:
        """Sign a contract call from the payer with every field explicit (no estimation)."""
        nonce = self.next_nonce() if nonce is None else nonce
        fees = self.current_fees() if fees is None else fees
        tx: dict[str, Any] = {
            "to": Web3.to_checksum_address(to),
            "data": data,
            "value": 0,
            "gas": gas,
            "nonce": nonce,
            "chainId": self.chain_id,
            **fees.as_tx_fields(),
        }
        signed = self.payer.sign_transaction(tx)
        return SignedTx(
            tx_hash=_hex(signed.hash),
            raw_tx=_hex(signed.raw_transaction),
            nonce=nonce,
            gas=gas,
            chain_id=self.chain_id,
            fees=fees,
        )

    @_serialized
    def broadcast(self, signed: SignedTx | str) -> str:
        """Send a signed transaction; returns its hash. Sending one the node already has is not an error."""
        raw = signed.raw_tx if isinstance(signed, SignedTx) else signed
        try:
            return _hex(self.w3.eth.send_raw_transaction(HexBytes(raw)))
        except Exception as error:  # web3's errors for JSON-RPC nodes, eth-tester's/py-evm's in process
            message = str(error)
            if "already known" in message.lower() or "known transaction" in message.lower():
                return signed.tx_hash if isinstance(signed, SignedTx) else _hex(Web3.keccak(HexBytes(raw)))
            raise ChainError(f"broadcast refused: {message}") from None

    # ------------------------------------------------------------------ follow up
    @_serialized
    def lookup(self, tx_hash: str) -> TxLookup:
        """Where transaction `tx_hash` stands now: pending, mined, reverted or unknown."""
        try:
            receipt = self.w3.eth.get_transaction_receipt(HexBytes(tx_hash))
        except TransactionNotFound:
            receipt = None
        if receipt is not None and receipt.get("blockNumber") is not None:
            block = int(receipt["blockNumber"])
            confirmations = int(self.w3.eth.block_number) - block + 1
            if receipt["status"] == 1:
                return TxLookup(tx_hash, TxStatus.MINED, block, confirmations, int(receipt["gasUsed"]))
            reason = self._revert_reason(tx_hash, block)
            return TxLookup(tx_hash, TxStatus.REVERTED, block, confirmations, int(receipt["gasUsed"]), reason)
        try:
            self.w3.eth.get_transaction(HexBytes(tx_hash))
        except TransactionNotFound:
            return TxLookup(tx_hash, TxStatus.UNKNOWN)
        return TxLookup(tx_hash, TxStatus.PENDING)

    def wait_for_confirmations(
        self,
        tx_hash: str,
        confirmations: int = 1,
        *,
        timeout_s: float = 300.0,
        poll_interval_s: float = 1.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> TxLookup:
        """Poll until `tx_hash` is mined or reverted `confirmations` blocks deep; raise ConfirmationTimeout otherwise."""
        if confirmations < 1:
            raise ValueError("confirmations must be at least 1")
        deadline = time.monotonic() + timeout_s
        while True:
            seen = self.lookup(tx_hash)
            if seen.status in (TxStatus.MINED, TxStatus.REVERTED) and seen.confirmations >= confirmations:
                return seen
            if time.monotonic() >= deadline:
                raise ConfirmationTimeout(
                    f"{tx_hash} is {seen.status.value} with {seen.confirmations}/{confirmations} confirmations "
                    f"after {timeout_s:g} s",
                    seen,
                )
            sleep(poll_interval_s)

    def _revert_reason(self, tx_hash: str, block: int) -> str:
        """Replay a reverted transaction on the state before its block to learn why it failed (best effort)."""
        tx = self.w3.eth.get_transaction(HexBytes(tx_hash))
        call = {"from": tx["from"], "to": tx["to"], "data": tx["input"], "gas": tx["gas"], "value": tx["value"]}
        reason = self._call_error(call, max(block - 1, 0))
        return reason or "reverted (a replay on the previous block's state succeeds; likely out of gas)"

    @_serialized
    def simulate_batch(
        self, batch_id: bytes, recipients: Sequence[str], amounts_wei: Sequence[int], *, gas: int | None = None
    ) -> str | None:
        """Dry-run `payBatch` from the payer on the latest state: None if it would succeed, else why not."""
        data = self.payout.encode_abi(
            "payBatch",
            args=[_bytes32(batch_id), [Web3.to_checksum_address(r) for r in recipients], list(amounts_wei)],
        )
        call: dict[str, Any] = {"from": self.payer.address, "to": self.payout.address, "data": data}
        if gas is not None:
            call["gas"] = gas
        return self._call_error(call, "latest")

    def _call_error(self, call: dict[str, Any], block: int | str) -> str | None:
        try:
            self.w3.eth.call(call, block_identifier=block)  # type: ignore[arg-type]
        except Exception as error:  # eth-tester raises its own exception types, JSON-RPC nodes web3's
            data = revert_data(error)
            return decode_revert(data) if data is not None else f"call failed: {error}"
        return None


def replacement_fees(old: Fees, current: Fees) -> Fees:
    """Fees to replace a stuck transaction with the same nonce: today's fees, never less than the old + 15 %."""
    floor = old.bumped()

    def at_least(now: int | None, minimum: int | None) -> int | None:
        return None if now is None else max(now, minimum or 0)

    return Fees(
        max_fee_per_gas=at_least(current.max_fee_per_gas, floor.max_fee_per_gas),
        max_priority_fee_per_gas=at_least(current.max_priority_fee_per_gas, floor.max_priority_fee_per_gas),
        gas_price=at_least(current.gas_price, floor.gas_price or floor.max_fee_per_gas),
    )


def _bytes32(value: bytes) -> bytes:
    if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
        raise ValueError("a batch id is exactly 32 bytes")
    return bytes(value)


def _hex(value: bytes) -> str:
    return "0x" + bytes(value).hex()
