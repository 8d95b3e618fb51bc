"""Run a command against a real Far Mesh on loopback, then stop it.

Starts the reference server (embedded PostgreSQL) and one `far-node` in local mode serving the tiny test
model, creates an API key, and runs the command with FARLABS_BASE_URL and FARLABS_API_KEY set. Run it with
the project's server environment:

    .venv/bin/python ts-sdk/scripts/with-mesh.py -- npm run test:integration -w ts-sdk
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from farlabs_devtools.localmesh import LocalMesh, NodeSpec

ROOT = Path(__file__).resolve().parents[2]
NODE_BIN = Path(os.environ.get("FARLABS_NODE_VENV", ROOT / ".venv-node")) / "bin" / "far-node"
TINY_MODEL_ID = "farlabs/tiny-llama"


def main(argv: list[str]) -> int:
    command = argv[1:] if argv[:1] == ["--"] else argv
    if not command:
        print("usage: with-mesh.py -- COMMAND...", file=sys.stderr)
        return 2
    if not NODE_BIN.exists():
        print(f"no far-node at {NODE_BIN}: run `make setup` (or set FARLABS_NODE_VENV)", file=sys.stderr)
        return 2
    work = Path(tempfile.mkdtemp(prefix="farlabs-ts-mesh-"))
    mesh = LocalMesh(
        work_dir=work, node_bin=NODE_BIN, model="tiny",
        # The tiny model is the default, so the plan's snippets (which name no model) run verbatim.
        server_env={"FARLABS_DATA_DIR": str(work / "server-data"), "FARLABS_HEARTBEAT_INTERVAL_S": "2",
                    "DEFAULT_MODEL_ID": TINY_MODEL_ID, "FARLABS_MIN_SWARM_NODES": "1", "LOG_LEVEL": "WARNING"},
        node_env={"FARLABS_CACHE_DIR": os.environ.get("FARLABS_TEST_CACHE_DIR") or str(work / "cache"),
                  "OMP_NUM_THREADS": "1"},
    )
    try:
        mesh.start_server()
        mesh.prepare_model()
        node = mesh.start_node(NodeSpec("ts-node", None, mode="local"), "--torch-threads", "1")
        mesh.wait_ready([node])
        admin = {"Authorization": f"Bearer {mesh.admin_key}"}
        key = httpx.post(f"{mesh.url}/admin/keys", headers=admin, json={"name": "ts-sdk-integration"})
        key.raise_for_status()
        api_key: str = key.json()["key"]
        # Wait until discovery routes to the node (its first heartbeat).
        deadline = time.monotonic() + 60
        while True:
            r = httpx.get(f"{mesh.url}/models/{TINY_MODEL_ID}/nodes", headers={"Authorization": f"Bearer {api_key}"})
            if r.status_code == 200 and r.json().get("covered"):
                break
            if time.monotonic() > deadline:
                raise TimeoutError(f"model never covered: {r.status_code} {r.text}\n{node.log()[-3000:]}")
            time.sleep(0.3)
        env = {**os.environ, "FARLABS_BASE_URL": mesh.url, "FARLABS_API_KEY": api_key,
               "FARLABS_TEST_MODEL_ID": TINY_MODEL_ID}
        return subprocess.call(command, env=env)
    finally:
        mesh.stop_all()


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
