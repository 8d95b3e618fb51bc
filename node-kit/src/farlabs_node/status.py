"""`far-node status`: what this node is configured to do, and whether its gateway answers."""

from __future__ import annotations

import json

import httpx

from farlabs_node.config import GATEWAY_URL_FILENAME, NODE_KEY_FILENAME
from farlabs_node.settings import NodeSettings


def show_status(settings: NodeSettings, gateway_url: str | None = None) -> int:
    """Print the config and probe the gateway's /healthz; return 0 when configured and healthy, 1 when not set up,
    2 when the gateway does not answer."""
    if not settings.set_up_or_explain():
        return 1
    home = settings.home
    authorized = settings.authorization or settings.node_address == settings.wallet_address
    print(f"Config:     {settings.config_path}")
    print(f"Wallet:     {settings.wallet_address}")
    print(f"Node key:   {settings.node_address} ({home / NODE_KEY_FILENAME})")
    print(f"Authorized: {'yes' if authorized else 'NO'}")
    print(f"Model:      {settings.model}")
    print(f"Public IP:  {settings.public_ip or '(none)'}")
    print(f"Server:     {settings.server_url or '(none: standalone)'}")
    peers = settings.dht_peers
    print(f"DHT peers:  {', '.join(peers) or ('(from the server)' if settings.server_url else '(none)')}")
    url = gateway_url or _gateway_url(settings)
    try:
        health = httpx.get(f"{url}/healthz", timeout=3.0).json()
        print(f"Gateway:    {url} → {json.dumps(health)}")
    except httpx.HTTPError:
        print(f"Gateway:    {url} → not running")
        return 2
    return 0


def _gateway_url(settings: NodeSettings) -> str:
    """Where the running node's gateway listens (it records that, whatever flags it was started with), else where
    the settings would put it."""
    running = settings.home / GATEWAY_URL_FILENAME
    return running.read_text().strip() if running.exists() else settings.local_gateway_url
