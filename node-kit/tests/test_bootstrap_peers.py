"""A node given no DHT peers takes its server's (`GET /nodes/bootstrap`): in `far-node setup`, and in `far-node run`
when the config has none. The server is a small stand-in on 127.0.0.1 answering what the reference server answers."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from _helpers import free_port
from eth_account import Account
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from conftest import start_node
from farlabs_node.peers import BootstrapPeersError, fetch_bootstrap_peers
from farlabs_protocol import READY_LINE, SwarmBootstrap

PEER = "/ip4/127.0.0.1/tcp/31337/p2p/QmYyQSo1c1Ym7orWxLYvCrM2EmxFTANf8wXmmE7DWjhx5N"


@dataclass
class StandIn:
    url: str
    peers: list[str] = field(default_factory=list)
    answer: Response | None = None  # instead of the peers
    asked: int = 0


@pytest.fixture
def server() -> Iterator[StandIn]:
    port = free_port()
    standin = StandIn(f"http://127.0.0.1:{port}")

    async def bootstrap(request: Request) -> Response:
        standin.asked += 1
        return standin.answer or JSONResponse(SwarmBootstrap(dht_bootstrap=standin.peers).model_dump())

    app = Starlette(routes=[Route("/nodes/bootstrap", bootstrap)])  # registration: 404, the agent keeps retrying
    uv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    while not uv.started:
        time.sleep(0.02)
    yield standin
    uv.should_exit = True
    thread.join(10)


def test_fetch_returns_the_servers_peers(server: StandIn) -> None:
    assert fetch_bootstrap_peers(server.url) == []
    server.peers = [PEER]
    assert fetch_bootstrap_peers(server.url + "/") == [PEER]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (Response(status_code=404), "answered HTTP 404"),
        (Response("<html>", media_type="text/html"), 'did not answer {"dht_bootstrap"'),
        (JSONResponse({"dht_bootstrap": ["127.0.0.1:31337"]}), "not a multiaddr with a peer id"),
    ],
)
def test_a_wrong_answer_is_a_readable_error(server: StandIn, answer: Response, reason: str) -> None:
    server.answer = answer
    with pytest.raises(BootstrapPeersError, match=reason):
        fetch_bootstrap_peers(server.url)


def test_an_unreachable_server_is_a_readable_error() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    with pytest.raises(BootstrapPeersError, match=f"could not reach {url}/nodes/bootstrap"):
        fetch_bootstrap_peers(url, timeout_s=2)


def _setup(home: Path, server_url: str, *args: str) -> subprocess.CompletedProcess[str]:
    wallet = Account.create()
    key_file = home.parent / f"{home.name}-wallet.key"
    key_file.write_text(bytes(wallet.key).hex())
    return subprocess.run(
        [sys.executable, "-m", "farlabs_node.cli", "setup", "--non-interactive", "--wallet", wallet.address,
         "--wallet-key-file", str(key_file), "--public-ip", "127.0.0.1", "--model", "tiny", "--server", server_url, *args],
        capture_output=True, text=True, env={"FARLABS_NODE_HOME": str(home), "PATH": "/usr/bin:/bin"}, timeout=120,
    )


def test_setup_records_the_servers_peers_when_given_none(tmp_path: Path, server: StandIn) -> None:
    server.peers = [PEER]
    result = _setup(tmp_path / "home", server.url)
    assert result.returncode == 0, result.stderr
    assert f"DHT peers from {server.url}: {PEER}" in result.stdout
    assert json.loads((tmp_path / "home" / "config.json").read_text())["initial_peers"] == [PEER]


def test_setup_keeps_the_providers_peers(tmp_path: Path, server: StandIn) -> None:
    server.peers = [PEER]
    mine = "/ip4/10.0.0.7/tcp/4000/p2p/QmMine"
    result = _setup(tmp_path / "home", server.url, "--initial-peers", mine)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "home" / "config.json").read_text())["initial_peers"] == [mine]
    assert server.asked == 0


def test_setup_says_why_when_the_server_has_no_peers_for_it(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}"  # nobody listens
    result = _setup(tmp_path / "home", url)
    assert result.returncode == 0, result.stderr  # the config is written: `far-node run` asks again
    assert f"No DHT peers from the server (could not reach {url}/nodes/bootstrap" in result.stdout
    assert "Traceback" not in result.stderr
    assert json.loads((tmp_path / "home" / "config.json").read_text())["initial_peers"] == []


def test_run_asks_the_server_when_the_config_has_no_peers(
    tmp_path: Path, cache_dir: Path, bootstrap: str, tiny_model, server: StandIn  # type: ignore[no-untyped-def]
) -> None:
    home = tmp_path / "home-from-server"
    assert _setup(home, server.url).returncode == 0  # the server has none yet
    assert json.loads((home / "config.json").read_text())["initial_peers"] == []
    server.peers = [bootstrap]
    node = start_node(tmp_path, cache_dir, "from-server", None, "--blocks", "0:4", "--model-id", "farlabs/tiny-boot")
    try:
        log = node.wait_for(READY_LINE)
        assert f"DHT peers from {server.url}: {bootstrap}" in log
    finally:
        node.shutdown()


def test_run_without_peers_from_anywhere_says_why(tmp_path: Path, cache_dir: Path, tiny_model, server: StandIn) -> None:  # type: ignore[no-untyped-def]
    home = tmp_path / "home-refused"
    assert _setup(home, server.url).returncode == 0
    server.answer = Response(status_code=404)  # e.g. a server older than GET /nodes/bootstrap
    node = start_node(tmp_path, cache_dir, "refused", None, "--blocks", "0:2")
    assert node.proc is not None and node.proc.wait(timeout=120) != 0
    log = node.log()
    assert f"No DHT peers given, and none from the server: {server.url}/nodes/bootstrap answered HTTP 404" in log
    assert "no DHT peers" in log and "Traceback" not in log
