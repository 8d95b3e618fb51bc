"""One loopback swarm per test session: a DHT bootstrap peer and two far-node processes splitting a tiny Llama."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from _helpers import NodeProcess, free_port, hivemind_sockets, node_env, remove_stale_sockets, shutdown_all

from farlabs_protocol import READY_LINE

GATEWAY_TOKEN = "gw_test_token"


@pytest.fixture(scope="session", autouse=True)
def _clean_hivemind_sockets() -> Iterator[None]:
    """Remove the socket files this session's killed peers left in /tmp (never ones that existed before)."""
    before = hivemind_sockets()
    yield
    remove_stale_sockets(hivemind_sockets() - before)


@pytest.fixture(scope="session")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Model cache: $FARLABS_TEST_CACHE_DIR to reuse conversions between runs, else a fresh temp dir."""
    path = Path(os.environ.get("FARLABS_TEST_CACHE_DIR") or tmp_path_factory.mktemp("cache"))
    os.environ["FARLABS_CACHE_DIR"] = str(path)
    return path


@pytest.fixture(scope="session")
def tiny_model(cache_dir: Path):  # type: ignore[no-untyped-def]
    from farlabs_node.models import resolve_model

    return resolve_model("tiny")


@pytest.fixture(scope="session")
def bootstrap(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path) -> Iterator[str]:
    """A `far-node bootstrap` process; yields its multiaddr."""
    work = tmp_path_factory.mktemp("bootstrap")
    maddr_file = work / "maddr"
    node = NodeProcess(
        "bootstrap",
        ["bootstrap", "--port", str(free_port()), "--maddr-file", str(maddr_file)],
        work / "bootstrap.log",
        node_env(cache_dir, work / "home"),
    ).start()
    try:
        node.wait_for("FAR_MESH_DHT_BOOTSTRAP=", timeout_s=60)
        yield maddr_file.read_text().strip()
    finally:
        node.shutdown()


@dataclass
class Swarm:
    maddr: str
    gateway_url: str
    nodes: list[NodeProcess]
    model_path: str


def start_node(tmp: Path, cache: Path, name: str, maddr: str | None, *args: str, model: str = "tiny") -> NodeProcess:
    port = free_port()
    argv = [
        "run",
        "--model",
        model,
        "--port",
        str(port),
        "--gateway-token",
        GATEWAY_TOKEN,
        "--torch-threads",
        "1",
        "--update-period",
        "5",
        "--client-update-period",
        "3",
        "--request-timeout",
        "10",
        *args,
    ]
    if maddr:
        argv += ["--initial-peers", maddr]
    node = NodeProcess(name, argv, tmp / f"{name}.log", node_env(cache, tmp / f"home-{name}"))
    node.gateway_port = port
    return node.start()


@pytest.fixture(scope="session")
def swarm(tmp_path_factory: pytest.TempPathFactory, cache_dir: Path, bootstrap: str, tiny_model) -> Iterator[Swarm]:  # type: ignore[no-untyped-def]
    """Two nodes serving blocks 0:2 and 2:4 of the tiny model; the first one's gateway is used."""
    work = tmp_path_factory.mktemp("swarm")
    nodes = [
        start_node(work, cache_dir, "node-a", bootstrap, "--blocks", "0:2"),
        start_node(work, cache_dir, "node-b", bootstrap, "--blocks", "2:4"),
    ]
    try:
        for node in nodes:
            node.wait_for(READY_LINE)
        yield Swarm(bootstrap, f"http://127.0.0.1:{nodes[0].gateway_port}", nodes, tiny_model.path)
    finally:
        shutdown_all(nodes)


@pytest.fixture(scope="session")
def reference_generate(tiny_model):  # type: ignore[no-untyped-def]
    """Greedy token ids from plain transformers on the same checkpoint."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model.path)
    model = AutoModelForCausalLM.from_pretrained(tiny_model.path, torch_dtype=torch.float32).eval()

    def run(prompt_ids: list[int], n: int) -> list[int]:
        with torch.no_grad():
            out = model.generate(torch.tensor([prompt_ids]), max_new_tokens=n, do_sample=False)
        return [int(t) for t in out[0, len(prompt_ids) :]]

    run.tokenizer = tokenizer  # type: ignore[attr-defined]
    return run
