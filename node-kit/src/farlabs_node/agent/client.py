"""Registers the node with discovery, heartbeats every interval, re-registers after a server restart, backs off
while the server is down, and unregisters on shutdown (docs/protocol.md, "Discovery")."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import httpx

from farlabs_node.agent.hardware import hardware_snapshot, hardware_summary, memory_line
from farlabs_node.config import HEARTBEAT_INTERVAL_S
from farlabs_node.wallet import address_of
from farlabs_protocol import registration_message, sign_text

logger = logging.getLogger(__name__)
MIN_BACKOFF_S = 1.0
MAX_BACKOFF_S = 60.0


@dataclass(frozen=True)
class NodeIdentity:
    """Who the node is: the provider's wallet, the node's own key, and the wallet's authorization of that key."""

    wallet_address: str
    node_key: bytes
    node_name: str
    authorization: str | None = None  # may be None only when the node key is the wallet itself

    @property
    def node_address(self) -> str:
        return address_of(self.node_key)


@dataclass(frozen=True)
class ServingInfo:
    """What the node serves, as announced at registration."""

    model_id: str
    peer_id: str | None  # the Petals server's libp2p id; None for a local-mode node (no swarm identity)
    start_block: int
    end_block: int
    total_blocks: int
    mode: str  # "swarm" | "local"
    gateway_url: str | None = None
    region: str | None = None


@dataclass
class NodeStats:
    tokens_served: int = 0
    in_flight: int = 0
    throughput_tps: float = 0.0


class DiscoveryAgent:
    """The node's side of discovery. `run()` until `stop` is set, then `unregister()`."""

    def __init__(
        self,
        server_url: str,
        identity: NodeIdentity,
        serving: ServingInfo,
        stats: Callable[[], NodeStats],
        *,
        on_gateway_token: Callable[[str | None], None] = lambda _token: None,
        on_node_token: Callable[[str | None], None] = lambda _token: None,
        http: httpx.AsyncClient | None = None,
        clock: Callable[[], float] = time.time,
        emit: Callable[[str], None] = print,
    ) -> None:
        self.server_url = server_url.rstrip("/")
        self.identity = identity
        self.serving = serving
        self.stats = stats
        self.on_gateway_token = on_gateway_token
        self.on_node_token = on_node_token  # persisted by `far-node run` so `far-node dashboard` can use it
        self.http = http or httpx.AsyncClient(timeout=15.0)
        self.clock = clock
        self.emit = emit
        self.node_id: str | None = None
        self.node_token: str | None = None
        self.heartbeat_interval_s = HEARTBEAT_INTERVAL_S
        self.failures = 0

    # -- messages ---------------------------------------------------------------------------------------------
    def registration_body(self) -> dict[str, Any]:
        ident, serving = self.identity, self.serving
        body: dict[str, Any] = {
            "wallet_address": ident.wallet_address,
            "node_address": ident.node_address,
            "timestamp": int(self.clock()),
            "node_name": ident.node_name,
            "model_id": serving.model_id,
            "start_block": serving.start_block,
            "end_block": serving.end_block,
            "total_blocks": serving.total_blocks,
            "mode": serving.mode,
            "hardware": hardware_summary(),
        }
        if serving.peer_id:
            body["peer_id"] = serving.peer_id
        if ident.authorization:
            body["authorization"] = ident.authorization
        if serving.gateway_url:
            body["gateway_url"] = serving.gateway_url
        if serving.region:
            body["region"] = serving.region
        body["signature"] = sign_text(ident.node_key, registration_message(body))  # over the body as sent
        return body

    def heartbeat_body(self) -> dict[str, Any]:
        stats = self.stats()
        body: dict[str, Any] = {
            "tokens_served": stats.tokens_served,
            "in_flight": stats.in_flight,
            "throughput_tps": round(max(stats.throughput_tps, 0.0), 3),
            "start_block": self.serving.start_block,
            "end_block": self.serving.end_block,
            "hardware": hardware_snapshot(),
        }
        if self.serving.peer_id:
            body["peer_id"] = self.serving.peer_id
        return body

    # -- exchanges --------------------------------------------------------------------------------------------
    async def register(self) -> None:
        """POST /nodes/register; on success the gateway starts accepting the coordinator's token."""
        response = await self.http.post(f"{self.server_url}/nodes/register", json=self.registration_body())
        if response.status_code not in (200, 201):
            raise RegistrationError(response.status_code, _error_message(response))
        data = response.json()
        self.node_id, self.node_token = data["node_id"], data["node_token"]
        self.heartbeat_interval_s = float(data.get("heartbeat_interval_s") or HEARTBEAT_INTERVAL_S)
        self.on_gateway_token(data.get("gateway_token"))
        self.on_node_token(self.node_token)
        logger.info("registered with %s as node %s", self.server_url, self.node_id)

    async def heartbeat(self) -> dict[str, Any] | None:
        """POST /nodes/heartbeat; re-registers when the server no longer knows our token. Prints the line."""
        if self.node_token is None:
            await self.register()
        body = self.heartbeat_body()
        response = await self.http.post(
            f"{self.server_url}/nodes/heartbeat", json=body, headers={"Authorization": f"Bearer {self.node_token}"}
        )
        if response.status_code in (401, 404):  # server restarted or forgot us: register afresh
            logger.warning("server does not know this node's token (%s); registering again", response.status_code)
            self.node_token = None
            await self.register()
            response = await self.http.post(
                f"{self.server_url}/nodes/heartbeat",
                json=body,
                headers={"Authorization": f"Bearer {self.node_token}"},
            )
        if response.status_code != 200:
            raise RegistrationError(response.status_code, _error_message(response))
        data: dict[str, Any] = response.json()
        earned = Decimal(str(data.get("earned_far", "0"))).normalize()  # the server may send 18 decimals
        self.emit(
            f"[Heartbeat] Tokens: {data.get('tokens_credited', 0)} | Earned: {earned:f} FAR | {memory_line(body['hardware'])}"
        )
        return data

    async def unregister(self) -> None:
        """POST /nodes/unregister (best effort: the server marks us offline after missed beats anyway)."""
        if self.node_token is None:
            return
        try:
            await self.http.post(
                f"{self.server_url}/nodes/unregister",
                headers={"Authorization": f"Bearer {self.node_token}"},
                timeout=5.0,
            )
            logger.info("unregistered from %s", self.server_url)
        except httpx.HTTPError as exc:
            logger.warning("could not unregister: %s", exc)
        finally:
            self.node_token = None
            self.on_gateway_token(None)
            self.on_node_token(None)

    def next_delay_s(self) -> float:
        """Seconds until the next attempt: the interval when healthy, exponential backoff after failures."""
        if self.failures == 0:
            return self.heartbeat_interval_s
        return float(min(MAX_BACKOFF_S, MIN_BACKOFF_S * 2.0 ** (self.failures - 1)))

    async def tick(self) -> float:
        """One attempt: register if needed, then heartbeat. Returns the seconds to wait before the next one."""
        try:
            if self.node_token is None:
                await self.register()
                self.emit(f"Registered with {self.server_url} (node {self.node_id})")
            await self.heartbeat()
            self.failures = 0
        except (httpx.HTTPError, RegistrationError, ValueError, KeyError) as exc:
            self.failures += 1
            logger.warning("discovery server unavailable (%s); retrying in %.0f s", exc, self.next_delay_s())
        return self.next_delay_s()

    async def run(self, stop: asyncio.Event) -> None:
        """Register, then heartbeat until `stop` is set; survive server outages."""
        while not stop.is_set():
            delay = await self.tick()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), delay)

    async def aclose(self) -> None:
        await self.http.aclose()


class RegistrationError(Exception):
    """The server refused a discovery call."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except Exception:
        return response.text[:200]
