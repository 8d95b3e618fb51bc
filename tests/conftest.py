"""One real mesh per test session: the reference server (embedded PostgreSQL), a DHT bootstrap peer and two
far-node processes splitting a tiny Llama's 4 blocks over a loopback Petals swarm.

The node environment (.venv-node) is built by `make test`; these tests fail, not skip, without it.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from farlabs_devtools.localmesh import LocalMesh, NodeSpec
from farlabs_devtools.testing import TINY_MODEL_ID

ROOT = Path(__file__).resolve().parents[1]
NODE_BIN = Path(os.environ.get("FARLABS_NODE_VENV", ROOT / ".venv-node")) / "bin" / "far-node"


@pytest.fixture(scope="session")
def mesh() -> Iterator[LocalMesh]:
    if not NODE_BIN.exists():
        pytest.fail(f"no far-node at {NODE_BIN}: run `make setup` (or set FARLABS_NODE_VENV)")
    work = Path(tempfile.mkdtemp(prefix="farlabs-mesh-"))
    cache = os.environ.get("FARLABS_TEST_CACHE_DIR") or str(work / "cache")
    mesh = LocalMesh(
        work_dir=work, node_bin=NODE_BIN, model="tiny",
        # The tiny model is the server's default here, so the plan's snippets (which name no model) run verbatim.
        server_env={"FARLABS_DATA_DIR": str(work / "server-data"), "FARLABS_HEARTBEAT_INTERVAL_S": "2",
                    "DEFAULT_MODEL_ID": TINY_MODEL_ID,
                    "FARLABS_MIN_SWARM_NODES": "2", "FARLABS_PAYOUT_SCHEDULE_ENABLED": "false", "LOG_LEVEL": "WARNING",
                    # the tiny model earns fractions of a FAR: a low minimum lets the dashboard test see a payment
                    "FARLABS_PAYOUT_MINIMUM_FAR": "0.000001"},
        node_env={"FARLABS_CACHE_DIR": cache, "OMP_NUM_THREADS": "1"},
    )
    try:
        mesh.start_server()
        mesh.prepare_model()
        mesh.start_bootstrap()
        tuning = ["--torch-threads", "1", "--update-period", "5", "--client-update-period", "3",
                  "--request-timeout", "10"]
        nodes = [mesh.start_node(NodeSpec("node-a", "0:2"), *tuning),
                 mesh.start_node(NodeSpec("node-b", "2:4"), *tuning)]
        mesh.wait_ready(nodes)
        yield mesh
    finally:
        mesh.stop_all()
        shutil.rmtree(work, ignore_errors=True)  # its database and node homes (logs go into failure messages)


@pytest.fixture(scope="session")
def admin_headers(mesh: LocalMesh) -> dict[str, str]:
    return {"Authorization": f"Bearer {mesh.admin_key}"}


@pytest.fixture(scope="session")
def api_key(mesh: LocalMesh, admin_headers: dict[str, str]) -> str:
    response = httpx.post(f"{mesh.url}/admin/keys", headers=admin_headers, json={"name": "cross-package-tests"})
    response.raise_for_status()
    key: str = response.json()["key"]
    return key


@pytest.fixture(scope="session")
def covered(mesh: LocalMesh, api_key: str) -> dict[str, object]:
    """Waits until discovery sees both nodes covering the model; returns GET /models/{id}/nodes."""
    deadline = time.monotonic() + 60
    while True:
        r = httpx.get(f"{mesh.url}/models/{TINY_MODEL_ID}/nodes", headers={"Authorization": f"Bearer {api_key}"})
        if r.status_code == 200 and r.json()["covered"]:
            result: dict[str, object] = r.json()
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"model never covered: {r.status_code} {r.text}\n{mesh.child('node-a').log()[-3000:]}")
        time.sleep(0.3)

