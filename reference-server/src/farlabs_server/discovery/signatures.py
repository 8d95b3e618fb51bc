"""The messages a node and its wallet sign (EIP-191 personal_sign), and checking them."""

from __future__ import annotations

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


def registration_message(wallet_address: str, node_address: str, node_name: str, peer_id: str | None,
                         timestamp: int) -> str:
    """What the node key signs for each registration: names the node and a fresh timestamp."""
    return (
        "Far Mesh node registration\n"
        f"wallet: {to_checksum_address(wallet_address)}\n"
        f"node: {to_checksum_address(node_address)}\n"
        f"name: {node_name}\n"
        f"peer: {peer_id or ''}\n"
        f"timestamp: {timestamp}"
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
