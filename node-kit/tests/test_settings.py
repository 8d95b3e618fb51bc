"""The node's one settings object: flags over env vars over the config file over defaults; the older env names."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from pydantic import ValidationError

from farlabs_node import cli
from farlabs_node.settings import ENV_PREFIX, NodeSettings, load_settings, recorded_settings, save_setup

PEER_A = "/ip4/127.0.0.1/tcp/31337/p2p/QmA"
PEER_B = "/ip4/127.0.0.1/tcp/31338/p2p/QmB"
OLDER_NAMES = ("FARLABS_CACHE_DIR", "FARLABS_SERVER_URL", "FARLABS_GATEWAY_TOKEN", "FAR_MESH_DHT_BOOTSTRAP", "LOG_LEVEL")


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty node home, and no node setting in the environment but FARLABS_NODE_HOME."""
    for name in list(os.environ):
        if name.startswith(ENV_PREFIX) or name in OLDER_NAMES:
            monkeypatch.delenv(name)
    monkeypatch.setenv("FARLABS_NODE_HOME", str(tmp_path))
    return tmp_path


def _write_config(where: Path, **values: object) -> None:
    (where / "config.json").write_text(json.dumps(values))


def test_defaults_are_written_once_and_used_without_any_config(home: Path) -> None:
    settings = load_settings()
    assert settings.home == home
    assert (settings.gateway_port, settings.update_period_s, settings.heartbeat_interval_s) == (8300, 60.0, 30.0)
    assert settings.mode == "swarm" and settings.server_url is None and settings.dht_peers == []


def test_flags_override_env_vars_which_override_the_config_file(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_config(home, gateway_port=8401, server_url="http://file", model="tiny", update_period_s=5)
    settings = load_settings()
    assert (settings.gateway_port, settings.server_url, settings.model, settings.update_period_s) == (
        8401, "http://file", "tiny", 5.0)

    monkeypatch.setenv("FARLABS_NODE_GATEWAY_PORT", "8402")
    monkeypatch.setenv("FARLABS_SERVER_URL", "http://env")  # the older name still counts
    settings = load_settings()
    assert (settings.gateway_port, settings.server_url, settings.model) == (8402, "http://env", "tiny")

    settings = load_settings(gateway_port=8403, server_url="http://flag")
    assert (settings.gateway_port, settings.server_url, settings.model) == (8403, "http://flag", "tiny")


def test_the_older_env_names_keep_working(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FARLABS_CACHE_DIR", str(home / "cache"))
    monkeypatch.setenv("FARLABS_GATEWAY_TOKEN", "gw_env")
    monkeypatch.setenv("FAR_MESH_DHT_BOOTSTRAP", f"{PEER_A}, {PEER_B}")
    monkeypatch.setenv("LOG_LEVEL", "debug")
    settings = load_settings()
    assert settings.cache_dir == home / "cache"
    assert settings.gateway_token is not None and settings.gateway_token.get_secret_value() == "gw_env"
    assert settings.dht_bootstrap == [PEER_A, PEER_B] and settings.log_level == "debug"


def test_given_peers_come_before_far_mesh_dht_bootstrap(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """As before this object: flag, else config file, else FAR_MESH_DHT_BOOTSTRAP."""
    monkeypatch.setenv("FAR_MESH_DHT_BOOTSTRAP", PEER_B)
    assert load_settings().dht_peers == [PEER_B]
    _write_config(home, initial_peers=[PEER_A])
    assert load_settings().dht_peers == [PEER_A]
    assert load_settings(initial_peers=[PEER_B, PEER_A]).dht_peers == [PEER_B, PEER_A]


def test_the_home_chooses_the_config_file(home: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    other = tmp_path_factory.mktemp("other-home")
    _write_config(home, gateway_port=8501)
    _write_config(other, gateway_port=8502, home="/elsewhere")  # a file cannot move the home it is read from
    assert load_settings().gateway_port == 8501
    settings = load_settings(home=other)
    assert (settings.home, settings.gateway_port) == (other, 8502)


def test_env_vars_and_flags_parse_block_ranges_and_lists(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FARLABS_NODE_BLOCKS", "2:4")
    monkeypatch.setenv("FARLABS_NODE_INITIAL_PEERS", f"{PEER_A} {PEER_B}")
    settings = load_settings()
    assert settings.blocks == (2, 4) and settings.initial_peers == [PEER_A, PEER_B]
    with pytest.raises(ValidationError, match="START:END"):
        load_settings(blocks="4")
    with pytest.raises(ValidationError, match="START < END"):
        load_settings(blocks="4:2")


def test_setup_keeps_what_it_does_not_ask_about(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _write_config(home, gateway_port=8600, model="tiny")
    save_setup(home, {"wallet_address": "0xW", "model": "smollm2", "public_ip": "10.0.0.5"})
    data = json.loads((home / "config.json").read_text())
    assert data == {"gateway_port": 8600, "model": "smollm2", "wallet_address": "0xW", "public_ip": "10.0.0.5"}
    with pytest.raises(ValueError, match="not setup fields"):
        save_setup(home, {"gateway_port": 1})
    with pytest.raises(ValidationError):
        save_setup(home, {"public_ip": 5})
    assert json.loads((home / "config.json").read_text()) == data  # a refused answer leaves the file alone

    monkeypatch.setenv("FARLABS_SERVER_URL", "http://env")  # what setup starts from is the file alone
    assert recorded_settings(home).server_url is None and load_settings().server_url == "http://env"


def test_a_bad_setting_is_one_line_not_a_traceback(home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["run", "--blocks", "4:2"]) == 2
    assert capsys.readouterr().err.strip() == "far-node run: error: blocks: --blocks 4:2: need 0 <= START < END"
    _write_config(home, gateway_port="eighty")
    assert cli.main(["status"]) == 2
    assert "gateway_port: Input should be a valid integer" in capsys.readouterr().err


def test_every_setting_is_in_the_provider_guide() -> None:
    guide = (Path(__file__).resolve().parents[2] / "docs" / "provider-guide.md").read_text()
    missing = [name for name in NodeSettings.model_fields if f"`{ENV_PREFIX}{name.upper()}`" not in guide]
    assert missing == []
