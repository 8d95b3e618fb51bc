"""Wallet and node-key proofs (docs/protocol.md, "Wallet proof"): EIP-191 personal_sign messages."""

from __future__ import annotations

import os
import re
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils.address import is_checksum_address, to_checksum_address

_ADDRESS = re.compile(r"0x[0-9a-fA-F]{40}")


class WalletError(ValueError):
    """A wallet address, key or signature that cannot be used."""


def validate_wallet(address: str) -> str:
    """Return the checksummed address; refuse malformed ones and mixed-case ones with a wrong checksum."""
    address = address.strip()
    if not _ADDRESS.fullmatch(address):
        raise WalletError(f"not an Ethereum address: {address!r} (expected 0x followed by 40 hex digits)")
    body = address[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(address):
        raise WalletError(f"wallet address {address} has a wrong EIP-55 checksum (mistyped?)")
    return to_checksum_address(address)


def authorization_message(wallet: str, node: str) -> str:
    """What the wallet signs once to authorize this node key."""
    return f"Far Mesh node authorization\nwallet: {wallet}\nnode: {node}"


def registration_message(body: Mapping[str, Any]) -> str:
    """What the node key signs for each registration body: every field that routes requests to this node or pays
    it, so a body changed on its way to the server fails its signature (only `hardware` is left out). The same
    text as the server's `farlabs_server.discovery.signatures.registration_message` (docs/protocol.md)."""
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


_NODE_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


def validate_node_name(name: str) -> str:
    """Node names are what discovery accepts: 1-64 of letters, digits, '.', '_', '-' (not starting with a symbol)."""
    if not _NODE_NAME.fullmatch(name):
        raise ValueError(f"node name {name!r}: use 1-64 letters, digits, '.', '_' or '-', starting with a letter/digit")
    return name


def default_node_name(hostname: str) -> str:
    """A valid node name derived from the machine's host name."""
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "-", hostname).lstrip("._-")[:64]
    return cleaned or "far-node"


def sign_text(private_key: bytes, text: str) -> str:
    """EIP-191 personal_sign of `text`, as 0x-prefixed hex."""
    signed = Account.sign_message(encode_defunct(text=text), private_key=private_key)
    return "0x" + bytes(signed.signature).hex()


def recover_signer(text: str, signature: str) -> str:
    """The checksummed address that produced `signature` over `text`."""
    try:
        return str(Account.recover_message(encode_defunct(text=text), signature=signature))
    except Exception as exc:
        raise WalletError(f"unreadable signature: {exc}") from None


def verify_authorization(wallet: str, node: str, signature: str) -> None:
    """Raise unless `signature` is the wallet's authorization of `node`."""
    signer = recover_signer(authorization_message(wallet, node), signature)
    if signer != wallet:
        raise WalletError(f"the authorization was signed by {signer}, not by the wallet {wallet}")


def read_private_key(path: Path) -> bytes:
    """A 32-byte secp256k1 key from a file holding it as hex (with or without 0x)."""
    text = path.read_text().strip().removeprefix("0x")
    try:
        key = bytes.fromhex(text)
    except ValueError:
        raise WalletError(f"{path}: not a hex private key") from None
    if len(key) != 32:
        raise WalletError(f"{path}: a private key is 32 bytes, got {len(key)}")
    return key


def address_of(private_key: bytes) -> str:
    return str(Account.from_key(private_key).address)


def create_node_key(path: Path) -> bytes:
    """Create the node's own key file (mode 0600) if absent; return the key."""
    if path.exists():
        return read_private_key(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = secrets.token_bytes(32)
    Account.from_key(key)  # valid for secp256k1 (fails only for ~2^-128 of values)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write("0x" + key.hex() + "\n")
    return key
