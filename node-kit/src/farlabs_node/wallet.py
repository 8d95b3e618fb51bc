"""The provider's side of wallet and node-key proofs: checking addresses and names, keeping the node key, checking
the wallet's authorization. The signed texts themselves are farlabs_protocol's (docs/protocol.md, "Wallet proof")."""

from __future__ import annotations

import os
import re
import secrets
from pathlib import Path

from eth_account import Account
from eth_utils.address import is_checksum_address, to_checksum_address

from farlabs_protocol import SignatureError, authorization_message, recover_signer

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


def verify_authorization(wallet: str, node: str, signature: str) -> None:
    """Raise unless `signature` is the wallet's authorization of `node`."""
    try:
        signer = recover_signer(authorization_message(wallet, node), signature)
    except SignatureError as exc:
        raise WalletError(str(exc)) from None
    if signer != to_checksum_address(wallet):
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
