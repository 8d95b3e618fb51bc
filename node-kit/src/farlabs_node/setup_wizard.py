"""`far-node setup`: ask (or take from flags) wallet, model and public IP; write the config; create the keys."""

from __future__ import annotations

import platform
import socket
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from farlabs_node.config import HIVEMIND_IDENTITY_FILENAME, NODE_KEY_FILENAME
from farlabs_node.peers import BootstrapPeersError, fetch_bootstrap_peers
from farlabs_node.settings import NodeSettings, load_settings, recorded_settings, save_setup
from farlabs_node.wallet import (
    WalletError,
    address_of,
    create_node_key,
    default_node_name,
    read_private_key,
    validate_node_name,
    validate_wallet,
    verify_authorization,
)
from farlabs_protocol import authorization_message, sign_text


@dataclass
class SetupAnswers:
    wallet: str | None = None
    model: str | None = None
    public_ip: str | None = None  # "auto" = detect
    node_name: str | None = None
    region: str | None = None
    server_url: str | None = None
    initial_peers: list[str] | None = None
    wallet_key_file: str | None = None  # signs the authorization locally (tests/demo)
    authorization: str | None = None  # the wallet's signature, made elsewhere
    non_interactive: bool = False


def detect_public_ip() -> str:
    """The address of the interface that routes outwards (no packet is sent; loopback when offline)."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        try:
            probe.connect(("192.0.2.1", 9))  # TEST-NET-1: connect() on UDP only picks a route
            return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"


def _ask(prompt: str, default: str, ask: Callable[[str], str]) -> str:
    answer = ask(f"{prompt} [{default}]: " if default else f"{prompt}: ").strip()
    return answer or default


def run_setup(answers: SetupAnswers, ask: Callable[[str], str] = input, home: Path | None = None) -> NodeSettings:
    """Validate the answers, write the config, create the node key and hivemind identity; return what the config
    file now says."""
    home = home or load_settings().home
    existing = recorded_settings(home)
    interactive = not answers.non_interactive

    wallet_raw = answers.wallet or existing.wallet_address
    while True:
        if interactive and not answers.wallet:
            wallet_raw = _ask("Your BSC wallet address (receives $FAR)", wallet_raw, ask)
        if not wallet_raw:
            raise WalletError("a wallet address is required (--wallet 0x…)")
        try:
            wallet = validate_wallet(wallet_raw)
            break
        except WalletError as exc:
            if not interactive or answers.wallet:
                raise
            print(f"  {exc}")
            wallet_raw = ""

    model = answers.model or existing.model
    if interactive and not answers.model:
        model = _ask("Model to serve (hub id, local checkpoint dir, or 'smollm2')", model, ask)
    public_ip = answers.public_ip or existing.public_ip or "auto"
    if interactive and not answers.public_ip:
        public_ip = _ask("Public IP ('auto' to detect)", public_ip, ask)
    if public_ip == "auto":
        public_ip = detect_public_ip()
    try:
        socket.inet_pton(socket.AF_INET6 if ":" in public_ip else socket.AF_INET, public_ip)
    except OSError:
        raise ValueError(f"--public-ip {public_ip!r} is not an IP address") from None

    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    node_key = create_node_key(home / NODE_KEY_FILENAME)
    node_address = address_of(node_key)
    _create_hivemind_identity(home / HIVEMIND_IDENTITY_FILENAME)

    authorization = _authorize(wallet, node_address, answers, existing)
    server_url = answers.server_url if answers.server_url is not None else existing.server_url or ""
    initial_peers = answers.initial_peers if answers.initial_peers is not None else existing.initial_peers
    if not initial_peers and server_url:
        initial_peers = _peers_from_server(server_url)
    path = save_setup(home, {
        "wallet_address": wallet,
        "node_address": node_address,
        "authorization": authorization,
        "node_name": validate_node_name(answers.node_name or existing.node_name or default_node_name(platform.node())),
        "model": model,
        "public_ip": public_ip,
        "region": answers.region if answers.region is not None else existing.region or "",
        "server_url": server_url,
        "initial_peers": initial_peers,
    })
    print(f"✓ Config written to {path}")
    print(f"  wallet {wallet} · node key {node_address} ({home / NODE_KEY_FILENAME}, mode 0600)")
    if not authorization and node_address != wallet:
        print("  The wallet has not authorized this node yet. Sign this message with the wallet (personal_sign):")
        print("  ---")
        for line in authorization_message(wallet, node_address).splitlines():
            print(f"  {line}")
        print("  ---")
        print("  then run: far-node setup --non-interactive --authorization 0x<signature>")
    return recorded_settings(home)


def _peers_from_server(server_url: str) -> list[str]:
    """The server's DHT bootstrap peers, for a provider who names none; a failure is a line, not an error (a
    local-mode node needs no peers, and `far-node run` asks the server again)."""
    try:
        peers = fetch_bootstrap_peers(server_url)
    except BootstrapPeersError as exc:
        print(f"  No DHT peers from the server ({exc}): `far-node run` will ask it again; or pass --initial-peers.")
        return []
    if peers:
        print(f"  DHT peers from {server_url}: {', '.join(peers)}")
    else:
        print(f"  {server_url} hands out no DHT peers yet: `far-node run` will ask it again; or pass --initial-peers.")
    return peers


def _authorize(wallet: str, node_address: str, answers: SetupAnswers, existing: NodeSettings) -> str:
    if answers.wallet_key_file:
        key = read_private_key(Path(answers.wallet_key_file))
        if address_of(key) != wallet:
            raise WalletError(f"--wallet-key-file holds the key of {address_of(key)}, not of {wallet}")
        return sign_text(key, authorization_message(wallet, node_address))
    if answers.authorization:
        verify_authorization(wallet, node_address, answers.authorization)
        return answers.authorization
    if existing.authorization and existing.wallet_address == wallet and existing.node_address == node_address:
        return existing.authorization
    return ""


def _create_hivemind_identity(path: Path) -> None:
    """The libp2p key that fixes this node's peer id across restarts."""
    if path.exists():
        return
    from hivemind.p2p import P2P

    P2P.generate_identity(str(path))
