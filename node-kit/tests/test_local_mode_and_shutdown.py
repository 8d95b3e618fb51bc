"""`far-node run --mode local` (the centralized fallback) and clean shutdown of a node's whole process tree."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
from _helpers import generate

from conftest import GATEWAY_TOKEN, start_node
from farlabs_protocol import READY_LINE

PROMPT = "Flat is better than"


def _wait_gone(node, timeout_s: float = 30.0) -> list[int]:  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    left = node.session_pids()
    while left and time.monotonic() < deadline:
        time.sleep(0.2)
        left = node.session_pids()
    return left


def test_local_mode_serves_the_same_api_and_shuts_down_cleanly(
    tmp_path: Path,
    cache_dir: Path,
    tiny_model,
    reference_generate,  # type: ignore[no-untyped-def]
) -> None:
    node = start_node(tmp_path, cache_dir, "local", None, "--mode", "local")
    try:
        node.wait_for(READY_LINE)
        url = f"http://127.0.0.1:{node.gateway_port}"
        assert httpx.get(f"{url}/healthz", timeout=10).json()["mode"] == "local"
        prompt_ids = reference_generate.tokenizer(PROMPT)["input_ids"]
        expected = reference_generate(prompt_ids, 16)
        result = generate(url, GATEWAY_TOKEN, {"prompt": PROMPT, "max_tokens": 16, "temperature": 0})
        eos = reference_generate.tokenizer.eos_token_id
        assert result.token_ids == [t for t in expected if t != eos]
        (hop,) = result.done["route"]  # type: ignore[index]
        assert (hop["start_block"], hop["end_block"]) == (0, 4)
        assert "[Heartbeat] Tokens: 0 | Earned: 0 FAR (no server) | VRAM: " in node.log()

        assert node.stop() == 0
        assert _wait_gone(node) == []
        assert "Far Node stopped." in node.log()
    finally:
        node.shutdown()


def test_swarm_node_shutdown_leaves_no_processes(
    tmp_path: Path,
    cache_dir: Path,
    bootstrap: str,
    tiny_model,  # type: ignore[no-untyped-def]
) -> None:
    node = start_node(tmp_path, cache_dir, "to-stop", bootstrap, "--blocks", "0:1", "--model-id", "farlabs/tiny-shutdown")
    try:
        node.wait_for(READY_LINE)
        # blocks 1:4 of this model are served by nobody: refused as an HTTP error before any token
        response = httpx.post(
            f"http://127.0.0.1:{node.gateway_port}/generate",
            json={"prompt": PROMPT, "max_tokens": 2},
            headers={"Authorization": f"Bearer {GATEWAY_TOKEN}"},
            timeout=120,
        )
        assert response.status_code == 503
        assert response.json()["error"]["type"] == "overloaded_error"
        assert len(node.session_pids()) > 3  # DHT, p2pd, handlers: the tree a bare SIGTERM would orphan
        assert node.stop() == 0
        assert _wait_gone(node) == []
        log = node.log()
        assert "Shutting down" in log and "Far Node stopped." in log
    finally:
        node.shutdown()


def test_run_without_peers_is_refused(tmp_path: Path, cache_dir: Path, tiny_model) -> None:  # type: ignore[no-untyped-def]
    node = start_node(tmp_path, cache_dir, "no-peers", None, "--blocks", "0:2")
    assert node.proc is not None
    assert node.proc.wait(timeout=120) != 0
    assert "no DHT peers" in node.log()
    assert _wait_gone(node) == []
