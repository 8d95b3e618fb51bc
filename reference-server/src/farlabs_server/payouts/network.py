"""Connect to a real network (testnet, mainnet, or any JSON-RPC node such as anvil) as the payer.

The RPC URL often carries a provider's API key in its path or query, so only its scheme and host are
ever shown in errors.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.middleware import ExtraDataToPOAMiddleware

from .chain import ChainError, PayoutChain

# Known chains (the plan pays on BSC); any other chain id works the same.
CHAIN_NAMES = {56: "BNB Smart Chain", 97: "BNB Smart Chain testnet", 1: "Ethereum", 11155111: "Sepolia", 31337: "anvil"}
# Public block explorers, for transaction links in the provider API and dashboard (a local chain has none).
EXPLORERS = {56: "https://bscscan.com", 97: "https://testnet.bscscan.com", 1: "https://etherscan.io",
             11155111: "https://sepolia.etherscan.io"}


def tx_url(chain_id: int | None, tx_hash: str | None) -> str | None:
    """The explorer page of a transaction, when its chain has a public explorer."""
    base = EXPLORERS.get(chain_id or 0)
    return f"{base}/tx/{tx_hash}" if base and tx_hash else None


def connect(
    rpc_url: str,
    *,
    chain_id: int,
    token_address: str,
    payout_address: str,
    payer: LocalAccount,
    timeout_s: float = 30.0,
) -> PayoutChain:
    """A verified `PayoutChain` over JSON-RPC: the node is reachable, on `chain_id`, and the contracts fit.

    Raises `ChainError` if the node cannot be reached, reports another chain, or the addresses do not
    hold a token and a payout contract owned by `payer`.
    """
    shown = redact_url(rpc_url)
    if urlsplit(rpc_url).scheme not in ("http", "https"):
        raise ChainError(f"the RPC URL must be http(s): {shown}")
    w3 = Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout_s}))
    # BSC and other proof-of-authority chains carry long extraData that web3 refuses without this.
    w3.middleware_onion.inject(ExtraDataToPOAMiddleware, layer=0)
    try:
        actual = int(w3.eth.chain_id)
    except Exception as error:
        raise ChainError(f"cannot reach the RPC node at {shown}: {type(error).__name__}") from None
    if actual != chain_id:
        name = CHAIN_NAMES.get(actual, "an unknown chain")
        raise ChainError(f"the RPC node at {shown} is on chain {actual} ({name}), not the configured {chain_id}")
    chain = PayoutChain(w3, token_address, payout_address, payer)
    chain.verify()
    return chain


def redact_url(url: str) -> str:
    """`https://bsc.example/v1/SECRET?key=…` -> `https://bsc.example/…`: scheme and host only."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    port = f":{parts.port}" if parts.port else ""
    rest = "/…" if (parts.path.strip("/") or parts.query) else ""
    return f"{parts.scheme}://{host}{port}{rest}"
