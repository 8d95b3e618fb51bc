"""Every python block of docs/python-sdk.md runs against a live reference server.

Run it as test_sdk_live.py says.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from farlabs_devtools.testing import (
    MODEL,
    Behaviour,
    LiveServer,
    SyntheticGateway,
    add_node,
    new_api_key,
)

DOC = (Path(__file__).resolve().parents[2] / "docs" / "python-sdk.md").read_text()
BLOCKS = re.findall(r"```python\n(.*?)```", DOC, flags=re.S)


@pytest.fixture
def live_settings(settings):  # type: ignore[no-untyped-def]
    return settings.model_copy(
        update={
            "min_swarm_nodes": 1,
            "idle_timeout_s": 2.0,
            "first_token_timeout_s": 5.0,
            "sse_keepalive_s": 0.2,
            "default_model_id": MODEL,
        }
    )


@pytest.mark.parametrize("index", range(len(BLOCKS)))
def test_block(live: LiveServer, key: str, index: int, database_url: str) -> None:
    with SyntheticGateway(Behaviour(token_delay_s=0.01)) as gw:
        add_node(live, "nodeA", gw)
        if "provider(" in BLOCKS[index]:
            key = new_api_key(database_url, role="admin")
        env = {**os.environ, "FARLABS_API_KEY": key, "FARLABS_BASE_URL": live.url}
        result = subprocess.run(
            [sys.executable, "-c", BLOCKS[index]],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 0, result.stderr[-2000:]
