"""hivemind DHT/P2P options that keep a node inside the peers it is given (no public swarm, relays or NAT tricks)."""

from __future__ import annotations

from typing import Any

from farlabs_node.config import DEFAULT_HOST, is_loopback


def closed_dht_kwargs(
    host: str = DEFAULT_HOST, port: int = 0, identity_path: str | None = None, public_ip: str | None = None
) -> dict[str, Any]:
    """kwargs for `hivemind.DHT` (and Petals' Server, which forwards them) that reach nothing beyond `host`.

    With `public_ip` and a fixed `port`, peers are told to dial that address (a node behind a port forward).
    """
    kwargs: dict[str, Any] = {
        "host_maddrs": [f"/ip4/{host}/tcp/{port}"],
        "nat_port_map": False,
        "use_relay": False,
        "use_auto_relay": False,
        "auto_nat": False,
    }
    if identity_path:
        kwargs["identity_path"] = identity_path
    if public_ip and port and not is_loopback(host) and public_ip != host:
        kwargs["announce_maddrs"] = [f"/ip{6 if ':' in public_ip else 4}/{public_ip}/tcp/{port}"]
    return kwargs


def require_initial_peers(peers: list[str]) -> list[str]:
    """Refuse to start without explicit peers: Petals would otherwise join the public swarm."""
    if not peers:
        raise ValueError(
            "no DHT peers: pass --initial-peers, set FAR_MESH_DHT_BOOTSTRAP, or configure a server that hands them "
            "out (run `far-node bootstrap` to start one)"
        )
    return check_multiaddrs(peers)


def check_multiaddrs(peers: list[str]) -> list[str]:
    """`peers` if each is a multiaddr with a peer id, else ValueError naming the first that is not."""
    for peer in peers:
        if not peer.startswith("/") or "/p2p/" not in peer:
            raise ValueError(f"not a multiaddr with a peer id: {peer!r} (expected /ip4/HOST/tcp/PORT/p2p/12D3Koo…)")
    return peers
