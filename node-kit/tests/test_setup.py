"""`far-node setup`: wallet validation, config file, node key, wallet authorization."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from eth_account import Account

from conftest import start_node
from farlabs_protocol import READY_LINE, authorization_message, recover_signer, sign_text

GOOD_WALLET = "0x52908400098527886E0F7030069857D2E4169EE7"


def _setup(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    env = {"FARLABS_NODE_HOME": str(home), "PATH": "/usr/bin:/bin"}
    return subprocess.run(
        [sys.executable, "-m", "farlabs_node.cli", "setup", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


@pytest.mark.parametrize(
    "wallet",
    [
        "0x52908400098527886E0F7030069857D2E4169Ee7",  # one letter's case flipped: checksum mismatch
        "0x1234",
        "52908400098527886E0F7030069857D2E4169EE7",
        "0xZZ908400098527886E0F7030069857D2E4169EE7",
    ],
)
def test_setup_rejects_a_bad_wallet(tmp_path: Path, wallet: str) -> None:
    result = _setup(tmp_path, "--non-interactive", "--wallet", wallet, "--public-ip", "127.0.0.1")
    assert result.returncode == 2
    assert "error" in result.stderr and ("checksum" in result.stderr or "not an Ethereum address" in result.stderr)
    assert not (tmp_path / "config.json").exists()


def test_setup_writes_config_key_and_signed_authorization(tmp_path: Path) -> None:
    wallet = Account.create()
    key_file = tmp_path / "wallet.key"
    key_file.write_text(bytes(wallet.key).hex())
    home = tmp_path / "home"
    result = _setup(
        home,
        "--non-interactive",
        "--wallet",
        wallet.address.lower(),
        "--public-ip",
        "127.0.0.1",
        "--model",
        "tiny",
        "--node-name",
        "n1",
        "--wallet-key-file",
        str(key_file),
    )
    assert result.returncode == 0, result.stderr
    config = json.loads((home / "config.json").read_text())
    assert config["wallet_address"] == wallet.address  # stored checksummed
    assert config["model"] == "tiny" and config["public_ip"] == "127.0.0.1"
    node_key = home / "node.key"
    assert stat.S_IMODE(node_key.stat().st_mode) == 0o600
    assert Account.from_key(node_key.read_text().strip()).address == config["node_address"]
    assert (home / "hivemind.id").exists()
    message = authorization_message(wallet.address, config["node_address"])
    assert recover_signer(message, config["authorization"]) == wallet.address
    assert wallet.key.hex() not in result.stdout + result.stderr  # secrets never printed


def test_setup_without_wallet_key_prints_the_message_and_accepts_a_signature(tmp_path: Path) -> None:
    wallet = Account.create()
    result = _setup(tmp_path, "--non-interactive", "--wallet", wallet.address, "--public-ip", "10.0.0.5")
    assert result.returncode == 0, result.stderr
    config = json.loads((tmp_path / "config.json").read_text())
    message = authorization_message(wallet.address, config["node_address"])
    assert message.splitlines()[2] in result.stdout and config["authorization"] == ""

    wrong = sign_text(bytes(Account.create().key), message)
    refused = _setup(tmp_path, "--non-interactive", "--authorization", wrong)
    assert refused.returncode == 2 and "not by the wallet" in refused.stderr

    good = sign_text(bytes(wallet.key), message)
    accepted = _setup(tmp_path, "--non-interactive", "--authorization", good)
    assert accepted.returncode == 0, accepted.stderr
    again = json.loads((tmp_path / "config.json").read_text())
    assert again["authorization"] == good and again["node_address"] == config["node_address"]  # key kept


def test_interactive_setup_asks_again_after_a_bad_wallet(tmp_path: Path) -> None:
    answers = "0x1234\n" + GOOD_WALLET.lower() + "\n\n127.0.0.1\n"
    result = _setup(tmp_path, stdin=answers)
    assert result.returncode == 0, result.stderr
    assert "not an Ethereum address" in result.stdout
    assert json.loads((tmp_path / "config.json").read_text())["wallet_address"] == GOOD_WALLET


def test_status_reports_the_config(tmp_path: Path) -> None:
    _setup(tmp_path, "--non-interactive", "--wallet", GOOD_WALLET, "--public-ip", "127.0.0.1")
    env = {"FARLABS_NODE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}
    result = subprocess.run(
        [sys.executable, "-m", "farlabs_node.cli", "status", "--gateway-url", "http://127.0.0.1:9"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert GOOD_WALLET in result.stdout and "not running" in result.stdout
    assert result.returncode == 2


def test_status_finds_the_running_gateway_on_the_port_it_was_given(tmp_path: Path, cache_dir: Path, tiny_model) -> None:  # type: ignore[no-untyped-def]
    """A node started with `--port` (as `make demo` starts them) is "running" for `far-node status`, not only one on
    the configured port; once stopped, it is "not running" again."""
    home = tmp_path / "home-status"  # start_node's home for a node named "status"
    assert _setup(home, "--non-interactive", "--wallet", GOOD_WALLET, "--public-ip", "127.0.0.1").returncode == 0
    node = start_node(tmp_path, cache_dir, "status", None, "--mode", "local")
    env = {"FARLABS_NODE_HOME": str(home), "PATH": "/usr/bin:/bin"}

    def status() -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "farlabs_node.cli", "status"], capture_output=True, text=True,
                              env=env, timeout=60)

    try:
        node.wait_for(READY_LINE)
        assert node.gateway_port != 8300
        running = status()
        gateway = next(line for line in running.stdout.splitlines() if line.startswith("Gateway:"))
        assert f"http://127.0.0.1:{node.gateway_port} → " in gateway and '"status": "ok"' in gateway
        assert running.returncode == 0
        assert node.stop() == 0
        stopped = status()
        assert "→ not running" in stopped.stdout and stopped.returncode == 2
    finally:
        node.shutdown()


def test_dashboard_says_what_is_missing(tmp_path: Path) -> None:
    """`far-node dashboard` before setup, without a server, and while the node is not running: a clear line, exit 1.

    The working link (a real node and server) is tested in tests/test_dashboard_browser.py.
    """
    env = {"FARLABS_NODE_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"}

    def dashboard(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "farlabs_node.cli", "dashboard", *args], capture_output=True,
                              text=True, env=env, timeout=60)

    assert dashboard().returncode == 1 and "Run `far-node setup`" in dashboard().stdout
    _setup(tmp_path, "--non-interactive", "--wallet", GOOD_WALLET, "--public-ip", "127.0.0.1")
    assert dashboard().returncode == 1 and "No server configured" in dashboard().stdout
    not_running = dashboard("--server-url", "http://127.0.0.1:9")
    assert not_running.returncode == 1 and "start `far-node run`" in not_running.stdout
    (tmp_path / "node.token").write_text("fn_stale\n")
    unreachable = dashboard("--server-url", "http://127.0.0.1:9")
    assert unreachable.returncode == 2 and "Could not reach http://127.0.0.1:9" in unreachable.stdout


def test_a_loopback_swarm_node_takes_half_the_cores_unless_told(monkeypatch: pytest.MonkeyPatch) -> None:
    from farlabs_node.config import default_torch_threads

    monkeypatch.setattr("os.cpu_count", lambda: 2)
    assert default_torch_threads("127.0.0.1", "swarm", None) == 1
    monkeypatch.setattr("os.cpu_count", lambda: 16)
    assert default_torch_threads("127.0.0.1", "swarm", "cpu") == 8
    # elsewhere torch keeps its own choice: a public node, a local-mode node, a GPU node
    assert default_torch_threads("0.0.0.0", "swarm", None) is None
    assert default_torch_threads("127.0.0.1", "local", None) is None
    assert default_torch_threads("127.0.0.1", "swarm", "cuda:0") is None
