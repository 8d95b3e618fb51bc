"""The `local` network: an in-process EVM (web3's EthereumTesterProvider on py-evm) with the contracts deployed.

This is the embedded default: no node to install, nothing listening. Its state lives in memory and
is gone when the process ends. `deploy_contracts` also works on any other chain the deployer can pay
gas on (anvil, a testnet).
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3
from web3.providers.eth_tester import EthereumTesterProvider

from .chain import ChainError, PayoutChain, TxStatus
from .contracts import load_artifact

# Explicit gas for deployments (measured: FarToken ~0.65M, FarBatchPayout ~0.5M) with headroom.
DEPLOY_TOKEN_GAS = 1_500_000
DEPLOY_PAYOUT_GAS = 1_200_000
CALL_GAS = 100_000
DEFAULT_LOCAL_SUPPLY_WEI = 10**9 * 10**18  # a billion FAR for the payer of the local chain


@dataclass(frozen=True)
class Deployment:
    """Where the contracts landed."""

    token_address: str
    payout_address: str


def in_process_web3() -> tuple[Web3, list[LocalAccount]]:
    """A fresh in-process chain and its pre-funded accounts (their keys are public test keys)."""
    provider = EthereumTesterProvider()
    tester = provider.ethereum_tester
    assert tester is not None  # set by the constructor
    keys = tester.backend.account_keys
    accounts = [Account.from_key(key.to_bytes()) for key in keys]
    return Web3(provider), accounts


def deploy_contracts(w3: Web3, deployer: LocalAccount, *, token_name: str = "Far Token", symbol: str = "FAR") -> Deployment:
    """Deploy FarToken, then FarBatchPayout paying it; `deployer` owns both."""
    token_address = _deploy(w3, deployer, "FarToken", [token_name, symbol], DEPLOY_TOKEN_GAS)
    payout_address = _deploy(w3, deployer, "FarBatchPayout", [token_address], DEPLOY_PAYOUT_GAS)
    return Deployment(token_address, payout_address)


def local_chain(supply_wei: int = DEFAULT_LOCAL_SUPPLY_WEI) -> tuple[PayoutChain, list[LocalAccount]]:
    """Start an in-process chain, deploy the contracts, mint `supply_wei` to the payer and approve the payout contract.

    Returns the ready `PayoutChain` (payer = first pre-funded account) and the other pre-funded accounts.
    """
    w3, accounts = in_process_web3()
    return deploy_and_fund(w3, accounts[0], supply_wei), accounts[1:]


def deploy_and_fund(w3: Web3, payer: LocalAccount, supply_wei: int = DEFAULT_LOCAL_SUPPLY_WEI) -> PayoutChain:
    """On a development chain: deploy both contracts from `payer`, mint it `supply_wei`, approve the payout contract."""
    deployment = deploy_contracts(w3, payer)
    chain = PayoutChain(w3, deployment.token_address, deployment.payout_address, payer)
    mint = chain.token.encode_abi("mint", args=[payer.address, supply_wei])
    _confirm(chain, chain.broadcast(chain.sign_call(chain.token.address, mint, gas=CALL_GAS)), "mint")
    _confirm(chain, chain.broadcast(chain.sign_approval()), "approve")
    return chain


def _deploy(w3: Web3, deployer: LocalAccount, name: str, args: list[object], gas: int) -> str:
    artifact = load_artifact(name)
    factory = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    data = factory.constructor(*args).data_in_transaction
    base_fee = w3.eth.get_block("latest").get("baseFeePerGas")
    fees = (
        {"maxFeePerGas": 2 * int(base_fee) + 10**9, "maxPriorityFeePerGas": 10**9}
        if base_fee is not None
        else {"gasPrice": int(w3.eth.gas_price)}
    )
    tx = {
        "data": data,
        "value": 0,
        "gas": gas,
        "nonce": w3.eth.get_transaction_count(deployer.address, "pending"),
        "chainId": w3.eth.chain_id,
        **fees,
    }
    tx_hash = w3.eth.send_raw_transaction(deployer.sign_transaction(tx).raw_transaction)
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=120)
    if receipt["status"] != 1 or not receipt.get("contractAddress"):
        raise ChainError(f"deploying {name} failed (tx 0x{bytes(tx_hash).hex()})")
    return str(receipt["contractAddress"])


def _confirm(chain: PayoutChain, tx_hash: str, what: str) -> None:
    seen = chain.wait_for_confirmations(tx_hash, 1, timeout_s=120, poll_interval_s=0.05)
    if seen.status is not TxStatus.MINED:
        raise ChainError(f"{what} failed on the development chain: {seen.error}")
