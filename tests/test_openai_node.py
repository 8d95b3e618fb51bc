"""The official `openai` npm client, unchanged, through the real mesh (run with the machine's Node)."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from farlabs_devtools.localmesh import LocalMesh
from farlabs_devtools.testing import TINY_MODEL_ID

ROOT = Path(__file__).resolve().parents[1]


def test_openai_node_client(mesh: LocalMesh, api_key: str, covered: Any) -> None:
    node = shutil.which("node")
    assert node, "Node.js is required (make test installs the npm workspace)"
    script = Path(__file__).with_name("openai_node_check.mjs")
    result = subprocess.run([node, str(script), mesh.url, api_key, TINY_MODEL_ID], cwd=ROOT, capture_output=True,
                            text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    seen = json.loads(result.stdout.strip().splitlines()[-1])
    assert seen["object"] == "chat.completion" and seen["usage"]["completion_tokens"] >= 1
    assert seen["streamed"] == seen["text"]  # greedy: streamed and whole answers agree
    assert seen["streamUsage"]["total_tokens"] == seen["usage"]["total_tokens"]
    assert seen["finish"] in ("length", "stop")
    assert TINY_MODEL_ID in seen["models"]
    assert seen["notFound"] == {"status": 404, "isNotFound": True}
