"""The messages a node and its wallet sign (EIP-191 personal_sign), and checking them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address


def authorization_message(wallet_address: str, node_address: str) -> str:
    """What the wallet signs, once, to let a node key earn for it."""
    return (
        "Far Mesh node authorization\n"
        f"wallet: {to_checksum_address(wallet_address)}\n"
        f"node: {to_checksum_address(node_address)}"
    )


def registration_message(body: Mapping[str, Any]) -> str:
    """What the node key signs for each registration: every field that routes requests to the node or pays it
    (wallet, blocks, model, gateway URL), plus a fresh timestamp. A body changed in transit no longer matches
    its signature, so nobody between a node and the server can point its registration at another gateway.
    Only `hardware` (shown on dashboards, never used to route or pay) is left out. Keep in step with
    node-kit's `farlabs_node.wallet.registration_message`; the exact text is in docs/protocol.md."""
    return (
        "Far Mesh node registration\n"
        f"wallet: {to_checksum_address(body['wallet_address'])}\n"
        f"node: {to_checksum_address(body['node_address'])}\n"
        f"name: {body['node_name']}\n"
        f"peer: {body.get('peer_id') or ''}\n"
        f"model: {body['model_id']}\n"
        f"blocks: {body['start_block']}:{body['end_block']} of {body['total_blocks']}\n"
        f"mode: {body.get('mode') or 'swarm'}\n"
        f"gateway: {body.get('gateway_url') or ''}\n"
        f"region: {body.get('region') or ''}\n"
        f"timestamp: {body['timestamp']}"
    )


def recover_signer(message: str, signature: str) -> str | None:
    """The checksummed address that signed `message`, or None if the signature is malformed."""
    try:
        return str(Account.recover_message(encode_defunct(text=message), signature=signature))
    except Exception:  # eth-account raises several types for malformed signatures
        return None


def sign_message(private_key: str | bytes, message: str) -> str:
    """Sign like a wallet's personal_sign (used by tests and by far-node)."""
    signed = Account.sign_message(encode_defunct(text=message), private_key=private_key)
    return "0x" + bytes(signed.signature).hex().removeprefix("0x")
