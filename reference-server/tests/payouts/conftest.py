"""Fixtures: a real in-process EVM with the real compiled contracts deployed."""

from __future__ import annotations

import pytest
from eth_account.signers.local import LocalAccount

from farlabs_server.payouts.chain import PayoutChain, SignedTx, TxLookup, TxStatus
from farlabs_server.payouts.local import local_chain


@pytest.fixture
def chain_and_accounts() -> tuple[PayoutChain, list[LocalAccount]]:
    return local_chain()


@pytest.fixture
def chain(chain_and_accounts: tuple[PayoutChain, list[LocalAccount]]) -> PayoutChain:
    return chain_and_accounts[0]


@pytest.fixture
def others(chain_and_accounts: tuple[PayoutChain, list[LocalAccount]]) -> list[LocalAccount]:
    """Pre-funded accounts that are not the payer."""
    return chain_and_accounts[1]


class Transactions:
    """Send signed transactions on a chain and wait for them (the local chain mines each one at once)."""

    @staticmethod
    def send_and_confirm(chain: PayoutChain, signed: SignedTx) -> TxLookup:
        return chain.wait_for_confirmations(chain.broadcast(signed), 1, timeout_s=60, poll_interval_s=0.01)

    @classmethod
    def mined(cls, chain: PayoutChain, signed: SignedTx) -> TxLookup:
        seen = cls.send_and_confirm(chain, signed)
        assert seen.status is TxStatus.MINED, seen
        return seen


@pytest.fixture
def txs() -> type[Transactions]:
    return Transactions
