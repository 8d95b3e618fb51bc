"""`far-node status`: what this node is configured to do, and whether its gateway answers."""

from __future__ import annotations

import json

import httpx

from farlabs_node.config import NODE_KEY_FILENAME, NodeConfig, node_home


def show_status(gateway_url: str | None = None) -> int:
    """Print the config and probe the gateway's /healthz; return 0 when configured and (if probed) healthy."""
    home = node_home()
    config = NodeConfig.load_or_explain(home)
    if config is None:
        return 1
    print(f"Config:     {home / 'config.json'}")
    print(f"Wallet:     {config.wallet_address}")
    print(f"Node key:   {config.node_address} ({home / NODE_KEY_FILENAME})")
    print(f"Authorized: {'yes' if config.authorization or config.node_address == config.wallet_address else 'NO'}")
    print(f"Model:      {config.model}")
    print(f"Public IP:  {config.public_ip}")
    print(f"Server:     {config.server_url or '(none: standalone)'}")
    print(f"DHT peers:  {', '.join(config.initial_peers) or '(from FAR_MESH_DHT_BOOTSTRAP)'}")
    url = gateway_url or f"http://127.0.0.1:{config.gateway_port}"
    try:
        health = httpx.get(f"{url}/healthz", timeout=3.0).json()
        print(f"Gateway:    {url} → {json.dumps(health)}")
    except httpx.HTTPError:
        print(f"Gateway:    {url} → not running")
        return 2
    return 0
