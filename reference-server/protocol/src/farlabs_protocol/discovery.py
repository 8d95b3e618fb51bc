"""What discovery tells a node about the swarm (docs/protocol.md, "Discovery")."""

from __future__ import annotations

from pydantic import BaseModel, Field


class SwarmBootstrap(BaseModel):
    """`GET /nodes/bootstrap`, public: the swarm's DHT bootstrap peers as the server's operator set them
    (`FAR_MESH_DHT_BOOTSTRAP`). A node given no peers of its own joins the swarm through these."""

    dht_bootstrap: list[str] = Field(
        default_factory=list,
        description="libp2p multiaddrs, e.g. /ip4/203.0.113.10/tcp/31337/p2p/12D3KooW…; empty when none is set.",
    )
