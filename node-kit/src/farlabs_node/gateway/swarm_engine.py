"""`--mode swarm`: the Petals client runs embeddings and the LM head here, the blocks on the swarm's servers."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from farlabs_node import patches
from farlabs_node.gateway.engine import Engine, RouteHop, StepSession, next_token_logits
from farlabs_node.layout import store_weights_transposed
from farlabs_node.models import PreparedModel
from farlabs_node.swarm._dht_options import require_initial_peers


class _SwarmSession(StepSession):
    def __init__(self, engine: SwarmEngine, session: Any) -> None:
        self._engine = engine
        self._session = session
        self._hops: dict[tuple[str, int, int], None] = {}  # ordered set: every server that computed for us

    def step(self, input_ids: Any) -> Any:
        logits, _ = next_token_logits(self._engine.client_model, input_ids)
        for server_session in self._session._server_sessions:
            span = server_session.span
            self._hops[(str(span.peer_id), int(span.start), int(span.end))] = None
        return logits

    def route(self) -> list[RouteHop]:
        return [RouteHop(p, s, e) for p, s, e in self._hops]


class SwarmEngine(Engine):
    """A Petals distributed model joined only to the given peers, with the failover fix installed."""

    mode = "swarm"

    def __init__(
        self,
        model: PreparedModel,
        *,
        initial_peers: list[str],
        update_period_s: float = 15.0,
        request_timeout_s: float = 30.0,
        max_retries: int = 6,
        host: str = "127.0.0.1",
    ) -> None:
        super().__init__(model)
        patches.apply()  # the failover fix, among others
        with patches.closed_client_dht(host):
            self.client_model = self._load(model, initial_peers, update_period_s, request_timeout_s, max_retries)
        store_weights_transposed(self.client_model)
        self._read_config(self.client_model.config)

    @staticmethod
    def _load(
        model: PreparedModel,
        initial_peers: list[str],
        update_period_s: float,
        request_timeout_s: float,
        max_retries: int,
    ) -> Any:
        import torch

        patches.petals_ready()
        from petals import AutoDistributedModelForCausalLM

        return AutoDistributedModelForCausalLM.from_pretrained(
            model.path,
            initial_peers=require_initial_peers(initial_peers),
            dht_prefix=model.dht_prefix,
            torch_dtype=torch.float32,
            update_period=update_period_s,
            request_timeout=request_timeout_s,
            max_retries=max_retries,  # bounded: a dead swarm fails the request instead of retrying forever
            min_backoff=0.5,
            max_backoff=4.0,  # with max_retries: gives up after ~12 s, so the coordinator can try another gateway
            show_route=False,
        )

    @contextlib.contextmanager
    def session(self, max_length: int) -> Iterator[StepSession]:
        with self.client_model.inference_session(max_length=max_length) as session, self.client_model.use_session(session):
            yield _SwarmSession(self, session)

    def close(self) -> None:
        """Stop the client's route-update thread, close its libp2p handle inside its own event loop, then stop its
        DHT process."""
        from hivemind.moe.client.remote_expert_worker import RemoteExpertWorker

        manager = self.client_model.transformer.h.sequence_manager
        with contextlib.suppress(Exception):  # else it keeps asking the closed DHT, even while Python exits
            manager.shutdown()
        with contextlib.suppress(Exception):  # best effort: the process-tree sweep stops the rest
            if manager.state.p2p is not None:
                RemoteExpertWorker.run_coroutine(manager.state.p2p.shutdown())
                manager.state.p2p = None
        with contextlib.suppress(Exception):
            manager.dht.shutdown()
