"""The texts a wallet and a node key sign (EIP-191 personal_sign), signing them and checking who signed.

docs/protocol.md, "Wallet proof", shows the exact texts; tests/vectors/registration_message.json pins one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import to_checksum_address


class SignatureError(ValueError):
    """A signature that cannot be read (wrong length, not hex, not a point on the curve)."""


def authorization_message(wallet_address: str, node_address: str) -> str:
    """What the wallet signs, once, to let a node key earn for it."""
    return (
        "Far Mesh node authorization\n"
        f"wallet: {to_checksum_address(wallet_address)}\n"
        f"node: {to_checksum_address(node_address)}"
    )


def registration_message(body: Mapping[str, Any]) -> str:
    """What the node key signs for each registration body: every field that routes requests to the node or pays
    it, plus a fresh timestamp. A body changed in transit no longer matches its signature, so nobody between a
    node and the server can point its registration at another gateway. Only `hardware` (shown on dashboards,
    never used to route or pay) is left out."""
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


def sign_text(private_key: str | bytes, text: str) -> str:
    """EIP-191 personal_sign of `text` (what a wallet's `personal_sign` makes), as 0x-prefixed hex."""
    signed = Account.sign_message(encode_defunct(text=text), private_key=private_key)
    return "0x" + bytes(signed.signature).hex().removeprefix("0x")


def recover_signer(text: str, signature: str) -> str:
    """The checksummed address that signed `text`; SignatureError if the signature cannot be read."""
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception as exc:  # eth-account raises several types for malformed signatures
        raise SignatureError(f"unreadable signature: {exc}") from None


def signed_by(text: str, signature: str, address: str) -> bool:
    """Whether `signature` over `text` was made by `address` (any letter case); False for an unreadable one."""
    try:
        return recover_signer(text, signature).lower() == address.lower()
    except SignatureError:
        return False
