"""Node settings: one place for every default, the config file written by `far-node setup`, env vars."""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

DEFAULT_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
DEFAULT_GATEWAY_PORT = 8300
DEFAULT_BOOTSTRAP_PORT = 31337
DEFAULT_HOST = "127.0.0.1"
HEARTBEAT_INTERVAL_S = 30.0
CONFIG_FILENAME = "config.json"
NODE_KEY_FILENAME = "node.key"
HIVEMIND_IDENTITY_FILENAME = "hivemind.id"
GATEWAY_TOKEN_FILENAME = "gateway.token"
NODE_TOKEN_FILENAME = "node.token"  # the running node's discovery token, for `far-node dashboard`


def default_torch_threads(host: str, mode: str, device: str | None) -> int | None:
    """Torch intra-op threads when `--torch-threads` is not given; None keeps torch's own choice (every core).

    A swarm node on loopback shares its machine with at least one more node and a client, and a token passes
    through them one after another: when each takes every core their thread pools only fight (bench/swarm.py,
    docs/benchmarks.md). Half the cores each is the default there; elsewhere, torch's.
    """
    from farlabs_node.swarm._dht_options import is_loopback

    if mode != "swarm" or not is_loopback(host) or (device or "cpu").startswith("cuda"):
        return None
    return max(1, (os.cpu_count() or 2) // 2)


def node_home() -> Path:
    """Directory holding the node's config and keys: ``$FARLABS_NODE_HOME`` or ``~/.farlabs-node``."""
    return Path(os.environ.get("FARLABS_NODE_HOME") or Path.home() / ".farlabs-node")


def cache_dir() -> Path:
    """Directory for prepared model checkpoints: ``$FARLABS_CACHE_DIR`` or ``~/.cache/farlabs``."""
    return Path(os.environ.get("FARLABS_CACHE_DIR") or Path.home() / ".cache" / "farlabs")


def bootstrap_peers_from_env() -> list[str]:
    """Multiaddrs from ``FAR_MESH_DHT_BOOTSTRAP`` (comma or whitespace separated)."""
    raw = os.environ.get("FAR_MESH_DHT_BOOTSTRAP", "")
    return [p for p in raw.replace(",", " ").split() if p]


def write_secret(path: Path, text: str) -> None:
    """Write a secret file readable by this user only (0600, in a 0700 directory), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)


@dataclass
class NodeConfig:
    """What `far-node setup` records; `far-node run` flags override it."""

    wallet_address: str = ""
    node_address: str = ""
    authorization: str = ""  # the wallet's EIP-191 signature over the node authorization message
    node_name: str = ""
    model: str = DEFAULT_MODEL_ID
    public_ip: str = ""
    region: str = ""
    server_url: str = ""
    initial_peers: list[str] = field(default_factory=list)
    gateway_port: int = DEFAULT_GATEWAY_PORT

    @classmethod
    def load(cls, home: Path | None = None) -> NodeConfig | None:
        """Read the config file, or None when `far-node setup` has not run."""
        path = (home or node_home()) / CONFIG_FILENAME
        if not path.exists():
            return None
        data: dict[str, Any] = json.loads(path.read_text())
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})

    @classmethod
    def load_or_explain(cls, home: Path) -> NodeConfig | None:
        """The config, or None after telling the user to run `far-node setup` (for commands that need one)."""
        config = cls.load(home)
        if config is None:
            print(f"Not set up: no config in {home}. Run `far-node setup`.")
        return config

    def save(self, home: Path | None = None) -> Path:
        """Write the config file atomically (mode 0600: it names the wallet and holds its authorization)."""
        path = (home or node_home()) / CONFIG_FILENAME
        write_secret(path, json.dumps(asdict(self), indent=2) + "\n")
        return path
