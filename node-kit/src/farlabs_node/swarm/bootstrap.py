"""`far-node bootstrap`: a hivemind DHT peer that other nodes and gateways join through."""

from __future__ import annotations

import os
import signal
import threading
from pathlib import Path

from farlabs_node.swarm._dht_options import closed_dht_kwargs


def run_bootstrap(
    host: str,
    port: int,
    *,
    identity_path: str | None = None,
    maddr_file: str | None = None,
    public_ip: str | None = None,
) -> None:
    """Run a DHT bootstrap peer on host:port until SIGINT/SIGTERM; print (and optionally write) its multiaddr."""
    import hivemind

    dht = hivemind.DHT(start=True, **closed_dht_kwargs(host, port, identity_path, public_ip))
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    try:
        maddrs = [str(a) for a in dht.get_visible_maddrs()]
        print("DHT bootstrap peer is running. Give other nodes:", flush=True)
        for maddr in maddrs:
            print(f"  export FAR_MESH_DHT_BOOTSTRAP={maddr}", flush=True)
        if maddr_file:
            path = Path(maddr_file)
            tmp = path.with_suffix(path.suffix + ".tmp")
            tmp.write_text(maddrs[0] + "\n")
            os.replace(tmp, path)
        stop.wait()
    finally:
        dht.shutdown()
        from farlabs_node._process import stop_descendants

        stop_descendants()
