"""The real app under uvicorn on a loopback port, in a thread of the test process (what SDKs, OpenAI clients
and synthetic nodes talk to), and nodes registered on it."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from eth_account import Account
from starlette.applications import Starlette

from ..ports import free_port
from .clock import FakeClock
from .registration import NodeIdentity
from .synthetic_gateway import SyntheticGateway

MODEL = "test/tiny"  # the model the synthetic gateways serve


@dataclass
class LiveServer:
    url: str
    app: Starlette

    @property
    def ctx(self) -> Any:
        return self.app.state.ctx


def serve_in_thread(app: Starlette) -> tuple[str, Callable[[], None]]:
    """Start `app` (lifespan included); returns its URL and the function that stops it."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the server did not start")
        time.sleep(0.01)

    def stop() -> None:
        server.should_exit = True
        thread.join(timeout=15)

    return f"http://127.0.0.1:{port}", stop


def add_node(live: LiveServer, name: str, gateway: SyntheticGateway | None, *, start: int = 0, end: int = 4,
             total: int = 4, mode: str = "swarm", region: str | None = None) -> dict[str, Any]:
    """Register a node serving `MODEL` (through `gateway`, which then accepts the server's token)."""
    ident = NodeIdentity(wallet=Account.create(), node=Account.create(), name=name)
    body = ident.registration(FakeClock(), model_id=MODEL, start_block=start, end_block=end, total_blocks=total,
                              mode=mode, region=region, peer_id=f"12D3KooW{name}",
                              gateway_url=gateway.url if gateway else None)
    response = httpx.post(live.url + "/nodes/register", json=body)
    assert response.status_code == 201, response.text
    reg: dict[str, Any] = response.json()
    if gateway is not None:
        gateway.token = reg["gateway_token"]
    return reg
