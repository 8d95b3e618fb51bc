"""The DHT bootstrap multiaddrs a reference server hands its nodes (`GET /nodes/bootstrap`), for nodes given none."""

from __future__ import annotations

import httpx
from pydantic import ValidationError

from farlabs_node.swarm._dht_options import check_multiaddrs
from farlabs_protocol import SwarmBootstrap

BOOTSTRAP_PATH = "/nodes/bootstrap"


class BootstrapPeersError(Exception):
    """The server's bootstrap list could not be had; the message says why, for one line to the provider."""


def fetch_bootstrap_peers(
    server_url: str, *, timeout_s: float = 10.0, transport: httpx.BaseTransport | None = None
) -> list[str]:
    """The server's DHT bootstrap multiaddrs (maybe none); raises BootstrapPeersError with a readable reason."""
    url = server_url.rstrip("/") + BOOTSTRAP_PATH
    try:
        with httpx.Client(timeout=timeout_s, transport=transport) as client:
            response = client.get(url)
    except httpx.HTTPError as exc:
        raise BootstrapPeersError(f"could not reach {url}: {str(exc) or type(exc).__name__}") from None
    if response.status_code != 200:
        raise BootstrapPeersError(f"{url} answered HTTP {response.status_code}")
    try:
        peers = SwarmBootstrap.model_validate_json(response.content).dht_bootstrap
    except ValidationError:
        raise BootstrapPeersError(f"{url} did not answer {{\"dht_bootstrap\": [multiaddr, ...]}}") from None
    try:
        return check_multiaddrs(peers)
    except ValueError as exc:
        raise BootstrapPeersError(f"{url}: {exc}") from None
