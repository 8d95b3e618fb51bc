"""Constants shared by the node's modules: the defaults used in more than one place, and the node home's files.

Every setting and its default is in `farlabs_node.settings.NodeSettings`; the values here are the few that other
modules need without a settings object (the discovery agent's heartbeat, the bootstrap peer's port, file names).
"""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_MODEL_ID = "HuggingFaceTB/SmolLM2-135M-Instruct"
DEFAULT_GATEWAY_PORT = 8300
DEFAULT_BOOTSTRAP_PORT = 31337
DEFAULT_HOST = "127.0.0.1"
HEARTBEAT_INTERVAL_S = 30.0

# files in the node home ($FARLABS_NODE_HOME, default ~/.farlabs-node)
CONFIG_FILENAME = "config.json"
NODE_KEY_FILENAME = "node.key"
HIVEMIND_IDENTITY_FILENAME = "hivemind.id"
GATEWAY_TOKEN_FILENAME = "gateway.token"
NODE_TOKEN_FILENAME = "node.token"  # the running node's discovery token, for `far-node dashboard`
GATEWAY_URL_FILENAME = "gateway.url"  # where the running node's gateway listens, for `far-node status`


def is_loopback(host: str) -> bool:
    return host in ("127.0.0.1", "localhost", "::1") or host.startswith("127.")


def default_torch_threads(host: str, mode: str, device: str | None) -> int | None:
    """Torch intra-op threads when `--torch-threads` is not given; None keeps torch's own choice (every core).

    A swarm node on loopback shares its machine with at least one more node and a client, and a token passes
    through them one after another: when each takes every core their thread pools only fight (bench/swarm.py,
    docs/benchmarks.md). Half the cores each is the default there; elsewhere, torch's.
    """
    if mode != "swarm" or not is_loopback(host) or (device or "cpu").startswith("cuda"):
        return None
    return max(1, (os.cpu_count() or 2) // 2)


def write_secret(path: Path, text: str) -> None:
    """Write a secret file readable by this user only (0600, in a 0700 directory), replacing it atomically."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(text)
    os.replace(tmp, path)
