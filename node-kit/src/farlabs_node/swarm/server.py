"""A Petals block server for this node's range, run in a background thread of `far-node run`."""

from __future__ import annotations

import logging
import threading
from typing import Any

from farlabs_node import patches
from farlabs_node.models import PreparedModel
from farlabs_node.settings import NodeSettings
from farlabs_node.swarm._dht_options import closed_dht_kwargs, require_initial_peers

logger = logging.getLogger(__name__)
NUM_HANDLERS = 4  # Petals' connection handler processes


class BlockServer:
    """Petals `Server` in a thread: start, wait until its blocks are announced, read its peer id and span, stop.

    It serves `settings.blocks` of `model`, or with no range `num_blocks` blocks where the swarm needs them (None:
    as many as fit), and joins the swarm through `peers`.
    """

    def __init__(self, settings: NodeSettings, model: PreparedModel, peers: list[str], num_blocks: int | None) -> None:
        self.settings = settings
        self.model = model
        self.peers = require_initial_peers(peers)
        self.num_blocks = num_blocks
        self._server: Any = None
        self._constructed = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="petals-server", daemon=True)

    def _build(self) -> Any:
        patches.apply()  # before Server() forks its handler processes
        from petals.server.server import Server
        from petals.utils.convert_block import QuantType

        settings = self.settings
        kwargs: dict[str, Any] = {}
        if settings.blocks is not None:
            kwargs["block_indices"] = f"{settings.blocks[0]}:{settings.blocks[1]}"
        else:
            kwargs["num_blocks"] = self.num_blocks
        identity = settings.hivemind_identity_path
        return Server(
            converted_model_name_or_path=self.model.path,
            dht_prefix=self.model.dht_prefix,
            initial_peers=list(self.peers),
            public_name=settings.node_name or None,
            throughput=float(settings.throughput),  # a number: Petals runs no benchmark and no network speed test
            device=settings.device,
            torch_dtype=settings.torch_dtype,
            quant_type=QuantType[settings.quant_type.upper()],
            num_handlers=NUM_HANDLERS,
            update_period=settings.update_period_s,
            mean_balance_check_period=3600.0,  # a rebalance moves blocks under the coordinator's feet
            reachable_via_relay=False,  # skips the reachability round-trip through other peers
            skip_reachability_check=True,
            **closed_dht_kwargs(settings.host, settings.dht_port, str(identity) if identity else None, settings.public_ip),
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
