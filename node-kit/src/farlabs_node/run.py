"""`far-node run`: the Petals block server, the gateway and the discovery agent in one process tree."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import signal
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from farlabs_node.config import (
    GATEWAY_TOKEN_FILENAME,
    HEARTBEAT_INTERVAL_S,
    NODE_TOKEN_FILENAME,
    node_home,
    write_secret,
)
from farlabs_protocol import READY_LINE

logger = logging.getLogger("farlabs_node")


@dataclass
class RunOptions:
    """Everything `far-node run` needs, after flags, env vars and the config file are merged."""

    model: str
    mode: str = "swarm"  # swarm | local
    model_id: str | None = None
    initial_peers: list[str] = field(default_factory=list)
    blocks: tuple[int, int] | None = None
    num_blocks: int | None = None
    host: str = "127.0.0.1"
    gateway_port: int = 8300
    dht_port: int = 0
    public_ip: str | None = None  # announced in gateway_url / maddrs when set
    server_url: str | None = None
    gateway_token: str | None = None
    device: str | None = None
    torch_dtype: str = "float32"
    quant_type: str = "none"
    throughput: float = 1.0
    update_period_s: float = 60.0
    client_update_period_s: float = 15.0
    request_timeout_s: float = 30.0
    identity_path: str | None = None
    node_name: str = ""
    region: str | None = None
    wallet_address: str | None = None
    node_key: bytes | None = None
    authorization: str | None = None
    heartbeat_interval_s: float = HEARTBEAT_INTERVAL_S


class _Uvicorn:
    """uvicorn's Server without its signal capture (it re-raises SIGTERM after serving, killing our cleanup)."""

    def __init__(self, app: Any, host: str, port: int) -> None:
        import uvicorn

        class Server(uvicorn.Server):
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self.server = Server(uvicorn.Config(app, host=host, port=port, log_level="warning", lifespan="off"))

    async def serve(self) -> None:
        await self.server.serve()

    def stop(self) -> None:
        self.server.should_exit = True


def _standalone_gateway_token(explicit: str | None) -> str:
    """The token the gateway accepts when no server hands one out: flag/env, else one kept in the node home."""
    if explicit:
        return explicit
    path = node_home() / GATEWAY_TOKEN_FILENAME
    if path.exists():
        return path.read_text().strip()
    token = "gw_" + secrets.token_urlsafe(24)
    write_secret(path, token + "\n")
    print(f"Gateway token (no server configured) saved in {path}", flush=True)
    return token


def _keep_node_token(token: str | None) -> None:
    """Keep the discovery token in the node home while registered (`far-node dashboard` signs in with it)."""
    path = node_home() / NODE_TOKEN_FILENAME
    if token:
        write_secret(path, token + "\n")
    else:
        path.unlink(missing_ok=True)


def _load_engine(opts: RunOptions, model: Any, route_id: str | None) -> Any:
    from tqdm import tqdm

    with tqdm(total=1, desc=f"Loading {model.model_id} ({opts.mode})", unit="model") as bar:
        if opts.mode == "local":
            from farlabs_node.gateway.local_engine import LocalEngine

            device = opts.device or _default_device()
            engine: Any = LocalEngine(model, route_id=route_id, device=device, torch_dtype=opts.torch_dtype)
        else:
            from farlabs_node.gateway.swarm_engine import SwarmEngine

            engine = SwarmEngine(
                model,
                initial_peers=opts.initial_peers,
                update_period_s=opts.client_update_period_s,
                request_timeout_s=opts.request_timeout_s,
                host=opts.host,
            )
        bar.update(1)
    return engine


def _default_device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


class _StoppedDuringStartup(Exception):
    """SIGINT/SIGTERM arrived while the node was still starting."""


class _Throughput:
    """Tokens per second between two heartbeats."""

    def __init__(self) -> None:
        self.last_tokens, self.last_time = 0, time.monotonic()

    def sample(self, tokens: int) -> float:
        now = time.monotonic()
        rate = (tokens - self.last_tokens) / max(now - self.last_time, 1e-6)
        self.last_tokens, self.last_time = tokens, now
        return rate


async def _serve(opts: RunOptions) -> None:
    from farlabs_node.agent import DiscoveryAgent, NodeIdentity, ServingInfo
    from farlabs_node.agent.client import NodeStats
    from farlabs_node.agent.hardware import hardware_snapshot, memory_line
    from farlabs_node.gateway.app import GatewayAuth, create_app
    from farlabs_node.models import resolve_model
    from farlabs_node.swarm._dht_options import is_loopback
    from farlabs_node.swarm.usage import tokens_processed as block_tokens_processed

    if opts.server_url and not (opts.wallet_address and opts.node_key):
        raise ValueError("registering with a server needs a wallet and node key: run `far-node setup` first")
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    logging.getLogger("httpx").setLevel(logging.WARNING)  # one line per heartbeat is enough

    async def until_stopped(func: Any, *args: Any) -> Any:
        """Run a blocking start-up step in a daemon thread, but give up as soon as SIGINT/SIGTERM arrives
        (asyncio.to_thread would make asyncio.run wait for the step to finish anyway)."""
        future: asyncio.Future[Any] = loop.create_future()

        def settle(setter: Any, value: Any) -> None:
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
        stopper = asyncio.ensure_future(stop.wait())
        await asyncio.wait([future, stopper], return_when=asyncio.FIRST_COMPLETED)
        stopper.cancel()
        if not future.done():
            raise _StoppedDuringStartup()
        return future.result()

    model = await until_stopped(lambda: resolve_model(opts.model, model_id=opts.model_id))
    if model.is_local:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a local checkpoint never needs the hub
    block_server = None
    engine = None
    agent = None
    try:
        if opts.mode == "swarm":
            from farlabs_node.swarm.server import BlockServer, BlockServerOptions

            block_server = BlockServer(
                BlockServerOptions(
                    model_path=model.path,
                    dht_prefix=model.dht_prefix,
                    initial_peers=opts.initial_peers,
                    block_range=opts.blocks,
                    num_blocks=opts.num_blocks or _auto_num_blocks(opts, model),
                    host=opts.host,
                    port=opts.dht_port,
                    identity_path=opts.identity_path,
                    device=opts.device,
                    torch_dtype=opts.torch_dtype,
                    quant_type=opts.quant_type,
                    throughput=opts.throughput,
                    update_period_s=opts.update_period_s,
                    public_name=opts.node_name or None,
                    public_ip=opts.public_ip,
                )
            )
            block_server.start()
            await until_stopped(block_server.wait_ready, 600.0)
            peer_id: str | None = block_server.peer_id
            start_block, end_block = block_server.span
            print(f"Serving blocks {start_block}:{end_block} of {model.model_id} as peer {peer_id}", flush=True)
        else:
            peer_id = None  # no swarm identity: routes report this node with a null peer id
            start_block, end_block = 0, int(model.num_blocks or 0)
        engine = await until_stopped(_load_engine, opts, model, peer_id)
        if opts.mode == "local":
            end_block = engine.num_blocks
        total_blocks = int(model.num_blocks or engine.client_model.config.num_hidden_layers)

        auth = GatewayAuth(None if opts.server_url else _standalone_gateway_token(opts.gateway_token))
        gateway = _Uvicorn(create_app(engine, auth), opts.host, opts.gateway_port)
        gateway_task = asyncio.create_task(gateway.serve())
        while not gateway.server.started and not gateway_task.done():  # noqa: ASYNC110  (uvicorn has only a flag)
            await asyncio.sleep(0.05)
        if gateway_task.done():
            gateway_task.result()  # raises the bind error
            raise RuntimeError("gateway stopped during start-up")
        # what the coordinator dials: the listen address on loopback, else the public address
        advertised = opts.host if is_loopback(opts.host) else (opts.public_ip or opts.host)
        gateway_url = f"http://{advertised}:{opts.gateway_port}"
        print(f"Gateway listening on http://{opts.host}:{opts.gateway_port} (POST /generate)", flush=True)

        throughput = _Throughput()

        def tokens_served() -> int:
            # a swarm node serves whatever its blocks compute for any gateway; a local node, its own answers
            return block_tokens_processed() if block_server is not None else int(engine.tokens_served)

        def stats() -> NodeStats:
            served = tokens_served()
            return NodeStats(served, engine.in_flight, throughput.sample(served))

        background: list[asyncio.Task[Any]] = [gateway_task]
        if opts.server_url:
            assert opts.wallet_address and opts.node_key  # checked before start-up
            agent = DiscoveryAgent(
                opts.server_url,
                NodeIdentity(opts.wallet_address, opts.node_key, opts.node_name or "far-node", opts.authorization),
                ServingInfo(model.model_id, peer_id, start_block, end_block, total_blocks, opts.mode, gateway_url, opts.region),
                stats,
                on_gateway_token=auth.set,
                on_node_token=_keep_node_token,
                emit=lambda line: print(line, flush=True),
            )
            agent.heartbeat_interval_s = opts.heartbeat_interval_s
            background.append(asyncio.create_task(agent.run(stop)))
        else:

            async def local_heartbeat() -> None:
                while not stop.is_set():
                    print(
                        f"[Heartbeat] Tokens: {tokens_served()} | Earned: 0 FAR (no server) | {memory_line(hardware_snapshot())}",
                        flush=True,
                    )
                    with contextlib.suppress(asyncio.TimeoutError):
                        await asyncio.wait_for(stop.wait(), opts.heartbeat_interval_s)

            background.append(asyncio.create_task(local_heartbeat()))
        print(READY_LINE, flush=True)

        stopper = asyncio.create_task(stop.wait())
        await asyncio.wait([stopper, gateway_task], return_when=asyncio.FIRST_COMPLETED)
        print("Shutting down…", flush=True)
        stop.set()
        if agent is not None:
            await agent.unregister()
        gateway.stop()
        await asyncio.wait(background, timeout=10)
    finally:
        if agent is not None:
            await agent.aclose()
        if engine is not None:
            engine.close()
        if block_server is not None:
            await asyncio.to_thread(block_server.shutdown)


def _auto_num_blocks(opts: RunOptions, model: Any) -> int | None:
    """With no --blocks: Petals sizes the range from GPU memory on CUDA; on CPU serve the whole model."""
    if opts.blocks is not None:
        return None
    if (opts.device or _default_device()).startswith("cuda"):
        return None
    return int(model.num_blocks) if model.num_blocks else None


def run_node(opts: RunOptions) -> int:
    """Run until SIGINT/SIGTERM; then stop every child process. Returns the exit code."""
    from farlabs_node._process import stop_descendants

    code = 0
    try:
        asyncio.run(_serve(opts))
    except (KeyboardInterrupt, asyncio.CancelledError, _StoppedDuringStartup):
        pass
    except Exception as exc:
        logger.error("far-node run failed: %s", exc)
        code = 1
    finally:
        stop_descendants()
        print("Far Node stopped.", flush=True)
    return code
