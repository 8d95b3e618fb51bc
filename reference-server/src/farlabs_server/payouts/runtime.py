"""Connect the tracker to the configured network: the embedded local chain, a local dev node, or testnet/mainnet.

- `local`, no RPC URL: an in-process EVM with fresh contracts. It lives as long as this process; the
  database outlives it, so a batch left open by an earlier process is paid again on the new chain (its
  contributions stay reserved). Fine for demos and tests; nothing of value moves.
- `local` with an RPC URL (anvil, a dev node): contracts deployed once by the payer (anvil's first test
  account unless a key is set), their addresses kept in `far_payout_contracts` per chain instance, so a
  restarted server keeps paying on them (run anvil with `--state` to keep the chain).
- `testnet` / `mainnet`: an RPC URL, chain id, token and payout contract addresses and the payer's key,
  all required; the contracts are verified before anything is paid.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import asyncpg

from ..db import payouts as db_payouts
from ..db.payouts import LocalContracts
from ..settings import Settings
from .chain import ChainError, PayoutChain
from .tracker import TrackerConfig

# web3's in-process EVM (eth-tester) always reports this chain id.
IN_PROCESS_CHAIN_ID = 131277322940537


class PayoutConfigError(ValueError):
    """The payout settings do not describe a network that can be paid on."""


@dataclass(frozen=True)
class ChainHandle:
    """A connected chain and the identity of its instance (a genesis hash, or a per-process id in process)."""

    chain: PayoutChain
    instance: str
    network: str


def url_secrets(settings: Settings) -> tuple[str, ...]:
    """The parts of the RPC URL that may hold an API key (path, query, credentials): scrubbed from every error."""
    if settings.payout_rpc_url is None:
        return ()
    url = settings.payout_rpc_url.get_secret_value()
    parts = urlsplit(url)
    found = [url]
    if parts.path.strip("/"):
        found.append(parts.path)
    if parts.query:
        found.append(parts.query)
    if parts.username or parts.password:
        found += [p for p in (parts.username, parts.password) if p]
    return tuple(found)


def tracker_config(settings: Settings, network: str) -> TrackerConfig:
    """The tracker's settings; a local chain mines a block per transaction, so one confirmation is all there is."""
    return TrackerConfig(
        network=network,
        minimum_far=settings.payout_minimum_far,
        confirmations=1 if network == "local" else settings.payout_confirmations,
        confirmation_timeout_s=settings.payout_confirmation_timeout_s,
        poll_interval_s=0.05 if network == "local" else settings.payout_poll_interval_s,
        max_tx_gas=settings.payout_max_tx_gas,
    )


def expected_chain_id(settings: Settings, network: str) -> int | None:
    """The chain id a network will report, when known without connecting (dry runs)."""
    if network == "local" and settings.payout_rpc_url is None:
        return IN_PROCESS_CHAIN_ID
    return settings.payout_chain_id


def open_chain(settings: Settings, network: str, known_contracts: LocalContracts | None = None) -> ChainHandle:
    """Connect (synchronous: call it from a worker thread). `known_contracts` are a dev node's earlier deployment."""
    if network == "local" and settings.payout_rpc_url is None:
        from .local import local_chain

        chain, _ = local_chain()
        return ChainHandle(chain, f"in-process:{uuid.uuid4()}", network)
    if network == "local":
        return _local_node(settings, known_contracts)
    return _real_network(settings, network)


def _payer(settings: Settings, *, default_key: str | None = None) -> Any:
    from .keys import load_payer

    key = settings.payout_private_key.get_secret_value() if settings.payout_private_key else default_key
    password = settings.payout_keystore_password.get_secret_value() if settings.payout_keystore_password else None
    if settings.payout_keystore_path is not None:
        key = None  # an explicit keystore wins over the dev default
    return load_payer(private_key=key, keystore_path=settings.payout_keystore_path, keystore_password=password)


def missing_settings(settings: Settings, network: str) -> list[str]:
    """The settings a network needs that are not set (none for local)."""
    if network == "local":
        return []
    missing = [name for name, value in (
        ("FARLABS_PAYOUT_RPC_URL", settings.payout_rpc_url), ("FARLABS_PAYOUT_CHAIN_ID", settings.payout_chain_id),
        ("FARLABS_PAYOUT_TOKEN_ADDRESS", settings.payout_token_address),
        ("FARLABS_PAYOUT_CONTRACT_ADDRESS", settings.payout_contract_address),
    ) if value is None]
    if settings.payout_private_key is None and settings.payout_keystore_path is None:
        missing.append("FARLABS_PAYOUT_PRIVATE_KEY or FARLABS_PAYOUT_KEYSTORE_PATH")
    return missing


def _real_network(settings: Settings, network: str) -> ChainHandle:
    from .network import connect

    missing = missing_settings(settings, network)
    if missing:
        raise PayoutConfigError(f"payouts on {network} need {', '.join(missing)}")
    assert settings.payout_rpc_url and settings.payout_chain_id and settings.payout_token_address
    assert settings.payout_contract_address
    chain = connect(settings.payout_rpc_url.get_secret_value(), chain_id=settings.payout_chain_id,
                    token_address=settings.payout_token_address, payout_address=settings.payout_contract_address,
                    payer=_payer(settings))
    return ChainHandle(chain, _genesis(chain), network)


def _local_node(settings: Settings, known: LocalContracts | None) -> ChainHandle:
    from web3 import Web3

    from .anvil import ANVIL_TEST_KEY
    from .local import deploy_and_fund
    from .network import redact_url

    assert settings.payout_rpc_url is not None
    url = settings.payout_rpc_url.get_secret_value()
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    try:
        _ = w3.eth.chain_id  # the first call shows whether the node is there
    except Exception as error:  # its text would name the URL
        raise ChainError(f"cannot reach the RPC node at {redact_url(url)}: {type(error).__name__}") from None
    payer = _payer(settings, default_key=ANVIL_TEST_KEY)
    if known is not None and len(w3.eth.get_code(Web3.to_checksum_address(known.payout_address))) > 0:
        chain = PayoutChain(w3, known.token_address, known.payout_address, payer)
        chain.verify()
    else:
        chain = deploy_and_fund(w3, payer)
    return ChainHandle(chain, _genesis(chain), "local")


def _genesis(chain: PayoutChain) -> str:
    try:
        return "0x" + bytes(chain.w3.eth.get_block(0)["hash"]).hex()
    except Exception as error:
        raise ChainError(f"cannot read the genesis block: {type(error).__name__}") from None


async def known_contracts(conn: asyncpg.Connection, settings: Settings, network: str) -> LocalContracts | None:
    """The contracts deployed earlier on the configured local dev node, if any (the newest)."""
    if network != "local" or settings.payout_rpc_url is None:
        return None
    return await db_payouts.latest_local_contracts(conn)


async def remember_contracts(conn: asyncpg.Connection, handle: ChainHandle) -> None:
    """Keep where a local dev node's contracts are (nothing to keep for the in-process chain or real networks)."""
    if handle.network != "local" or handle.instance.startswith("in-process:"):
        return
    chain = handle.chain
    await db_payouts.save_local_contracts(conn, chain_id=chain.chain_id, chain_instance=handle.instance,
                                          token_address=chain.token.address, payout_address=chain.payout.address,
                                          payer_address=chain.payer.address)
