"""`NodeRuntime`: one `far-node run` — the Petals block server, the gateway, and the discovery agent (or, with no
server, a local heartbeat line) — started in that order and stopped in the reverse one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import threading
import time
from collections.abc import Callable
from typing import Any, TypeVar

from farlabs_node._uvicorn import GatewayServer
from farlabs_node.config import (
    GATEWAY_TOKEN_FILENAME,
    GATEWAY_URL_FILENAME,
    NODE_KEY_FILENAME,
    NODE_TOKEN_FILENAME,
    is_loopback,
    write_secret,
)
from farlabs_node.peers import BootstrapPeersError, fetch_bootstrap_peers
from farlabs_node.settings import NodeSettings
from farlabs_protocol import READY_LINE

logger = logging.getLogger("farlabs_node")
BLOCK_SERVER_START_TIMEOUT_S = 600.0
SHUTDOWN_GRACE_S = 10.0
T = TypeVar("T")


class StoppedDuringStartup(Exception):
    """SIGINT/SIGTERM arrived while the node was still starting."""


def _print_line(line: str) -> None:
    print(line, flush=True)


class NodeRuntime:
    """`run()` = `start()` (returns when the node is ready), `wait()` (until `request_stop()` or the gateway dies),
    `stop()` (also after a failed or interrupted start). `request_stop()` is what the signal handlers call."""

    def __init__(self, settings: NodeSettings, emit: Callable[[str], None] = _print_line) -> None:
        self.settings = settings
        self.emit = emit
        self.model: Any = None
        self.block_server: Any = None
        self.engine: Any = None
        self.agent: Any = None
        self.gateway: GatewayServer | None = None
        self.peer_id: str | None = None  # the block server's; a local-mode node has no swarm identity
        self.span = (0, 0)
        self._stop_requested = asyncio.Event()
        self._background: list[asyncio.Task[Any]] = []
        self._throughput = _Throughput()

    def request_stop(self) -> None:
        self._stop_requested.set()

    async def run(self) -> None:
        try:
            await self.start()
            await self.wait()
            self.emit("Shutting down…")
        finally:
            await self.stop()

    async def start(self) -> None:
        """Bring the node up and print the ready line; raises StoppedDuringStartup when asked to stop meanwhile."""
        node_key = self._node_key()
        from farlabs_node.models import resolve_model

        settings = self.settings
        self.model = await self._until_stopped(lambda: resolve_model(settings.model, model_id=settings.model_id))
        if self.model.is_local:
            os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local checkpoint never needs the hub
        peers: list[str] = []
        if settings.mode == "swarm":
            peers = await self._until_stopped(self._dht_peers)
            await self._start_block_server(peers)
        await self._load_engine(peers)
        auth = await self._start_gateway()
        self._start_reporting(auth, node_key)
        self.emit(READY_LINE)

    async def wait(self) -> None:
        """Until `request_stop()`, or until the gateway stops by itself."""
        assert self.gateway is not None and self.gateway.task is not None, "start() first"
        stopper = asyncio.ensure_future(self._stop_requested.wait())
        await asyncio.wait([stopper, self.gateway.task], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()

    async def stop(self) -> None:
        """Unregister, stop the gateway and the background tasks, then close the agent, engine and block server."""
        self._stop_requested.set()
        try:
            if self.agent is not None:
                await self.agent.unregister()
            if self.gateway is not None:
                self.gateway.stop()
            if self._background:
                await asyncio.wait(self._background, timeout=SHUTDOWN_GRACE_S)
        finally:
            (self.settings.home / GATEWAY_URL_FILENAME).unlink(missing_ok=True)
            if self.agent is not None:
                await self.agent.aclose()
            if self.engine is not None:
                self.engine.close()
            if self.block_server is not None:
                await asyncio.to_thread(self.block_server.shutdown)

    # -- start-up steps -------------------------------------------------------------------------------------------
    def _node_key(self) -> bytes | None:
        """The node's key; registering with a server needs it and the wallet (checked before anything starts)."""
        from farlabs_node.wallet import read_private_key

        path = self.settings.home / NODE_KEY_FILENAME
        key = read_private_key(path) if path.exists() else None
        if self.settings.server_url and not (self.settings.wallet_address and key):
            raise ValueError("registering with a server needs a wallet and node key: run `far-node setup` first")
        return key

    def _dht_peers(self) -> list[str]:
        """The peers given to the node, else those its server hands out (none: the block server refuses to start)."""
        server = self.settings.server_url
        if self.settings.dht_peers or not server:
            return self.settings.dht_peers
        try:
            peers = fetch_bootstrap_peers(server)
        except BootstrapPeersError as exc:
            self.emit(f"No DHT peers given, and none from the server: {exc}")
            return []
        self.emit(f"DHT peers from {server}: {', '.join(peers) or '(none)'}")
        return peers

    async def _start_block_server(self, peers: list[str]) -> None:
        from farlabs_node.swarm.server import BlockServer

        self.block_server = BlockServer(self.settings, self.model, peers, self._auto_num_blocks())
        self.block_server.start()
        await self._until_stopped(self.block_server.wait_ready, BLOCK_SERVER_START_TIMEOUT_S)
        self.peer_id, self.span = self.block_server.peer_id, self.block_server.span
        start, end = self.span
        self.emit(f"Serving blocks {start}:{end} of {self.model.model_id} as peer {self.peer_id}")

    def _auto_num_blocks(self) -> int | None:
        """With no --blocks: Petals sizes the range from GPU memory on CUDA; on CPU serve the whole model."""
        if self.settings.blocks is not None or self._device().startswith("cuda"):
            return None
        return int(self.model.num_blocks) if self.model.num_blocks else None

    async def _load_engine(self, peers: list[str]) -> None:
        self.engine = await self._until_stopped(self._build_engine, peers)
        if self.settings.mode == "local":
            self.span = (0, self.engine.num_blocks)

    def _build_engine(self, peers: list[str]) -> Any:
        from tqdm import tqdm

        settings = self.settings
        with tqdm(total=1, desc=f"Loading {self.model.model_id} ({settings.mode})", unit="model") as bar:
            if settings.mode == "local":
                from farlabs_node.gateway.local_engine import LocalEngine

                engine: Any = LocalEngine(self.model, route_id=None, device=self._device(), torch_dtype=settings.torch_dtype)
            else:
                from farlabs_node.gateway.swarm_engine import SwarmEngine

                engine = SwarmEngine(
                    self.model,
                    initial_peers=peers,
                    update_period_s=settings.client_update_period_s,
                    request_timeout_s=settings.request_timeout_s,
                    host=settings.host,
                )
            bar.update(1)
        return engine

    def _device(self) -> str:
        if self.settings.device:
            return self.settings.device
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"

    async def _start_gateway(self) -> Any:
        """Listen for `POST /generate`; return the gateway's token holder (set by registration, or standalone)."""
        from farlabs_node.gateway.app import GatewayAuth, create_app

        settings = self.settings
        auth = GatewayAuth(None if settings.server_url else self._standalone_gateway_token())
        self.gateway = GatewayServer(create_app(self.engine, auth), settings.host, settings.gateway_port)
        self._background.append(await self.gateway.start())
        self.emit(f"Gateway listening on http://{settings.host}:{settings.gateway_port} (POST /generate)")
        # for `far-node status`: the port may have come from a flag that no config file records
        write_secret(settings.home / GATEWAY_URL_FILENAME, settings.local_gateway_url + "\n")
        return auth

    def _standalone_gateway_token(self) -> str:
        """The token the gateway accepts when no server hands one out: the setting, else one kept in the home."""
        if self.settings.gateway_token is not None:
            return self.settings.gateway_token.get_secret_value()
        path = self.settings.home / GATEWAY_TOKEN_FILENAME
        if path.exists():
            return path.read_text().strip()
        token = "gw_" + secrets.token_urlsafe(24)
        write_secret(path, token + "\n")
        self.emit(f"Gateway token (no server configured) saved in {path}")
        return token

    def _start_reporting(self, auth: Any, node_key: bytes | None) -> None:
        """Register and heartbeat with the server, or print a local heartbeat line when there is none."""
        settings = self.settings
        if not settings.server_url:
            self._background.append(asyncio.create_task(self._local_heartbeat()))
            return
        from farlabs_node.agent import DiscoveryAgent, NodeIdentity, ServingInfo

        assert node_key is not None  # checked by _node_key()
        total_blocks = int(self.model.num_blocks or self.engine.client_model.config.num_hidden_layers)
        self.agent = DiscoveryAgent(
            settings.server_url,
            NodeIdentity(settings.wallet_address, node_key, settings.node_name or "far-node", settings.authorization),
            ServingInfo(self.model.model_id, self.peer_id, *self.span, total_blocks, settings.mode, self._gateway_url(),
                        settings.region),
            self._stats,
            on_gateway_token=auth.set,
            on_node_token=self._keep_node_token,
            emit=self.emit,
        )
        self.agent.heartbeat_interval_s = settings.heartbeat_interval_s
        self._background.append(asyncio.create_task(self.agent.run(self._stop_requested)))

    def _gateway_url(self) -> str:
        """What the coordinator dials: the listen address on loopback, else the public address."""
        host = self.settings.host
        advertised = host if is_loopback(host) else (self.settings.public_ip or host)
        return f"http://{advertised}:{self.settings.gateway_port}"

    def _keep_node_token(self, token: str | None) -> None:
        """Keep the discovery token in the node home while registered (`far-node dashboard` signs in with it)."""
        path = self.settings.home / NODE_TOKEN_FILENAME
        if token:
            write_secret(path, token + "\n")
        else:
            path.unlink(missing_ok=True)

    # -- while running --------------------------------------------------------------------------------------------
    def _tokens_served(self) -> int:
        """A swarm node serves whatever its blocks compute for any gateway; a local node, its own answers."""
        if self.block_server is not None:
            from farlabs_node.swarm.usage import tokens_processed

            return tokens_processed()
        return int(self.engine.tokens_served)

    def _stats(self) -> Any:
        from farlabs_node.agent.client import NodeStats

        served = self._tokens_served()
        return NodeStats(served, self.engine.in_flight, self._throughput.sample(served))

    async def _local_heartbeat(self) -> None:
        from farlabs_node.agent.hardware import hardware_snapshot, memory_line

        while not self._stop_requested.is_set():
            self.emit(
                f"[Heartbeat] Tokens: {self._tokens_served()} | Earned: 0 FAR (no server) | "
                f"{memory_line(hardware_snapshot())}"
            )
            with contextlib.suppress(asyncio.TimeoutError):
                await asyncio.wait_for(self._stop_requested.wait(), self.settings.heartbeat_interval_s)

    async def _until_stopped(self, func: Callable[..., T], *args: Any) -> T:
        """Run a blocking start-up step in a daemon thread, but give up as soon as a stop is requested
        (asyncio.to_thread would make asyncio.run wait for the step to finish anyway)."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def settle(setter: Callable[[Any], None], value: Any) -> None:
            if not future.done():
                setter(value)

        def target() -> None:
            try:
                value = func(*args)
            except BaseException as exc:
                with contextlib.suppress(RuntimeError):  # the loop is gone: nobody is waiting
                    loop.call_soon_threadsafe(settle, future.set_exception, exc)
            else:
                with contextlib.suppress(RuntimeError):
                    loop.call_soon_threadsafe(settle, future.set_result, value)

        threading.Thread(target=target, name="far-node-startup", daemon=True).start()
        stopper: asyncio.Future[Any] = asyncio.ensure_future(self._stop_requested.wait())
        await asyncio.wait([future, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not future.done():
            raise StoppedDuringStartup()
        return future.result()


class _Throughput:
    """Tokens per second between two heartbeats."""

    def __init__(self) -> None:
        self.last_tokens, self.last_time = 0, time.monotonic()

    def sample(self, tokens: int) -> float:
        now = time.monotonic()
        rate = (tokens - self.last_tokens) / max(now - self.last_time, 1e-6)
        self.last_tokens, self.last_time = tokens, now
        return rate
