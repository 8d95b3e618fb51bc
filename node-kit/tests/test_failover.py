"""Killing one of two servers that hold the same blocks, mid-generation: the answer completes, identically."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import pytest
from _helpers import shutdown_all

from conftest import start_node
from farlabs_protocol import READY_LINE

PROMPT = "Errors should never pass"
N_TOKENS = 40
KILL_AFTER = 8


def test_generation_survives_a_server_dying_mid_stream(
    tmp_path: Path,
    cache_dir: Path,
    bootstrap: str,
    tiny_model,
    reference_generate,  # type: ignore[no-untyped-def]
    caplog: pytest.LogCaptureFixture,
) -> None:
    from farlabs_node.gateway.engine import GenerationResult, SamplingParams, generate
    from farlabs_node.gateway.swarm_engine import SwarmEngine
    from farlabs_node.models import PreparedModel

    model_id = "farlabs/tiny-failover"  # its own DHT prefix: only these two servers hold its blocks
    nodes = [
        start_node(tmp_path, cache_dir, name, bootstrap, "--blocks", "0:4", "--model-id", model_id) for name in ("twin-1", "twin-2")
    ]
    engine = None
    try:
        for node in nodes:
            node.wait_for(READY_LINE)
        model = PreparedModel(model_id, tiny_model.path, True, tiny_model.num_blocks)
        engine = SwarmEngine(model, initial_peers=[bootstrap], update_period_s=2, request_timeout_s=10)
        prompt_ids = engine.tokenizer(PROMPT)["input_ids"]
        expected = reference_generate(prompt_ids, N_TOKENS)
        assert len(expected) == N_TOKENS and engine.tokenizer.eos_token_id not in expected

        result = GenerationResult()
        ids: list[int] = []
        killed = None
        with caplog.at_level(logging.WARNING, logger="farlabs_node.failover"):
            for piece in generate(engine, prompt_ids, SamplingParams(max_new_tokens=N_TOKENS), result, threading.Event()):
                ids += piece.token_ids
                if killed is None and len(ids) >= KILL_AFTER:
                    (hop,) = result.route
                    killed = next(n for n in nodes if hop.peer_id in n.log())
                    killed.kill_group()  # SIGKILL the whole tree: no goodbye to the DHT
        assert killed is not None
        assert ids == expected
        assert result.finish_reason == "length"
        survivor = next(n for n in nodes if n is not killed)
        assert [h.peer_id for h in result.route][-1] in survivor.log()  # the survivor finished the job
        assert any("failover: replaying" in r.getMessage() for r in caplog.records)
    finally:
        if engine is not None:
            engine.close()
        shutdown_all(nodes)


def test_a_session_finalized_on_hivemind_event_loop_thread_does_not_wait_on_itself() -> None:
    """Petals' own `__del__` blocks on the event loop it runs on when the GC fires there; the fix schedules it."""
    from farlabs_node import patches

    patches.apply()
    from hivemind.moe.client.remote_expert_worker import RemoteExpertWorker
    from petals.client.inference_session import _ServerInferenceSession

    closed = threading.Event()

    class Session:
        _outputs_stream: object = object()
        _inputs_queue: object = object()
        close = _ServerInferenceSession.close  # Petals' own: waits for the event loop to run _aclose_stream

        async def _aclose_stream(self) -> None:
            closed.set()

    async def finalize_on_the_loop() -> str:
        _ServerInferenceSession.__del__(Session())
        return "returned"

    assert RemoteExpertWorker.run_coroutine(finalize_on_the_loop(), return_future=True).result(timeout=60) == "returned"
    assert closed.wait(60), "the stream close was never run"
    closed.clear()
    elsewhere = Session()
    _ServerInferenceSession.__del__(elsewhere)  # off the loop thread: Petals' ordinary blocking close
    assert closed.is_set() and elsewhere._outputs_stream is None
