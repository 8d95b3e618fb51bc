"""A Petals block server for this node's range, run in a background thread of `far-node run`."""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from typing import Any

from farlabs_node import patches
from farlabs_node.swarm._dht_options import closed_dht_kwargs, require_initial_peers

logger = logging.getLogger(__name__)


@dataclass
class BlockServerOptions:
    """What a node's Petals server needs; every field has the closed-swarm default."""

    model_path: str
    dht_prefix: str
    initial_peers: list[str]
    block_range: tuple[int, int] | None = None  # [start, end); None = let Petals pick under-served blocks
    num_blocks: int | None = None  # with block_range None: how many blocks to serve
    host: str = "127.0.0.1"
    port: int = 0
    identity_path: str | None = None
    device: str | None = None  # None: cuda when available, else cpu
    torch_dtype: str = "float32"
    quant_type: str = "none"  # none | int8 | nf4 (the latter two need bitsandbytes on CUDA)
    throughput: float = 1.0  # a number, so Petals runs no compute benchmark and no network speed test
    update_period_s: float = 60.0
    num_handlers: int = 4
    public_name: str | None = None
    public_ip: str | None = None


def parse_block_range(text: str) -> tuple[int, int]:
    """ "0:15" -> (0, 15), validated."""
    try:
        start_s, end_s = text.split(":")
        start, end = int(start_s), int(end_s)
    except ValueError:
        raise ValueError(f"--blocks must look like START:END (e.g. 0:15), got {text!r}") from None
    if not 0 <= start < end:
        raise ValueError(f"--blocks {text}: need 0 <= START < END")
    return start, end


class BlockServer:
    """Petals `Server` in a thread: start, wait until its blocks are announced, read its peer id and span, stop."""

    def __init__(self, options: BlockServerOptions) -> None:
        self.options = options
        require_initial_peers(options.initial_peers)
        self._server: Any = None
        self._constructed = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="petals-server", daemon=True)

    def _build(self) -> Any:
        patches.apply()  # before Server() forks its handler processes
        from petals.server.server import Server
        from petals.utils.convert_block import QuantType

        opts = self.options
        kwargs: dict[str, Any] = {}
        if opts.block_range is not None:
            kwargs["block_indices"] = f"{opts.block_range[0]}:{opts.block_range[1]}"
        else:
            kwargs["num_blocks"] = opts.num_blocks
        return Server(
            converted_model_name_or_path=opts.model_path,
            dht_prefix=opts.dht_prefix,
            initial_peers=list(opts.initial_peers),
            public_name=opts.public_name,
            throughput=float(opts.throughput),
            device=opts.device,
            torch_dtype=opts.torch_dtype,
            quant_type=QuantType[opts.quant_type.upper()],
            num_handlers=opts.num_handlers,
            update_period=opts.update_period_s,
            mean_balance_check_period=3600.0,  # a rebalance moves blocks under the coordinator's feet
            reachable_via_relay=False,  # skips the reachability round-trip through other peers
            skip_reachability_check=True,
            **closed_dht_kwargs(opts.host, opts.port, opts.identity_path, opts.public_ip),
            **kwargs,
        )

    def _run(self) -> None:
        try:
            self._server = self._build()
        except BaseException as exc:  # reported by wait_ready()
            self._error = exc
            return
        finally:
            self._constructed.set()
        try:
            self._server.run()
        except BaseException as exc:
            self._error = exc
            logger.exception("Petals server stopped with an error")

    def start(self) -> None:
        self._thread.start()

    def wait_ready(self, timeout_s: float) -> None:
        """Block until the server's blocks are loaded and announced; raise its error if it failed."""
        if not self._constructed.wait(timeout_s):
            raise TimeoutError("Petals server did not start in time")
        if self._error is not None:
            raise RuntimeError(f"Petals server failed to start: {self._error}") from self._error
        deadline = threading.Event()
        waited = 0.0
        while waited < timeout_s:
            container = self._server.module_container
            if container is not None and container.ready.wait(0.2):
                return
            if self._error is not None or not self._thread.is_alive():
                raise RuntimeError(f"Petals server stopped: {self._error}")
            deadline.wait(0.05)
            waited += 0.25
        raise TimeoutError("Petals server did not load its blocks in time")

    @property
    def peer_id(self) -> str:
        return str(self._server.dht.peer_id)

    @property
    def maddrs(self) -> list[str]:
        return [str(a) for a in self._server.dht.get_visible_maddrs()]

    @property
    def span(self) -> tuple[int, int]:
        """The [start, end) block range actually served (Petals may have chosen it)."""
        container = self._server.module_container
        indices = sorted(int(uid.rsplit(".", 1)[1]) for uid in container.module_backends)
        return indices[0], indices[-1] + 1

    def is_alive(self) -> bool:
        return self._thread.is_alive() and self._error is None

    def shutdown(self) -> None:
        """Announce the blocks offline and stop the server's DHT, handlers and runtime."""
        if self._server is not None:
            try:
                self._server.shutdown()
            except Exception:  # shutting down anyway; the process-tree sweep catches leftovers
                logger.exception("error while stopping the Petals server")
        self._thread.join(timeout=10)
