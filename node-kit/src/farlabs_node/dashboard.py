"""`far-node dashboard`: a sign-in link to the provider dashboard, for machines without a browser wallet.

The running node keeps its discovery token in the node home (`node.token`, 0600); the server trades it for a
short-lived provider token of the node's wallet (`POST /nodes/dashboard-token`) and a `/dashboard#token=…` link.
"""

from __future__ import annotations

import time

import httpx

from farlabs_node.config import NODE_TOKEN_FILENAME
from farlabs_node.settings import NodeSettings


def print_dashboard_link(settings: NodeSettings, server_url: str | None = None) -> int:
    """Print the sign-in link; 0 on success, 1 when the node is not set up or not running, 2 on a server error."""
    if not settings.set_up_or_explain():
        return 1
    home = settings.home
    server = (server_url or settings.server_url or "").rstrip("/")
    if not server:
        print("No server configured: run `far-node setup --server URL` or pass --server-url.")
        return 1
    token_file = home / NODE_TOKEN_FILENAME
    if not token_file.exists():
        print(f"No node token in {home}: start `far-node run` and wait until it has registered with {server}.")
        return 1
    try:
        response = httpx.post(f"{server}/nodes/dashboard-token", timeout=10.0,
                              headers={"Authorization": f"Bearer {token_file.read_text().strip()}"})
    except httpx.HTTPError as exc:
        print(f"Could not reach {server}: {exc}")
        return 2
    if response.status_code == 401:
        print(f"{server} does not know this node's token any more: is `far-node run` still running?")
        return 1
    if response.status_code != 200:
        print(f"{server} answered {response.status_code}: {response.text[:300]}")
        return 2
    data = response.json()
    expires = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(int(data["expires_at"])))
    print(f"Dashboard of wallet {data['wallet_address']} (the link signs you in; valid until {expires}, keep it private):")
    print(data["dashboard_url"])
    return 0
