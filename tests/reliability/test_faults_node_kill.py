"""A far-node SIGKILLed while it streams an answer, in the real loopback mesh (fault injection, issue 9).

The session `mesh` (node-a: blocks 0–2, node-b: 2–4) stays untouched: this module starts one extra far-node,
`node-fault`, serving blocks 2–4 again in a region of its own, so a request for that region goes through its
gateway. Once tokens flow the whole node (gateway and Petals server) is killed with SIGKILL. The client must get
either the complete answer (the coordinator resumes on another gateway) or one clean `event: error`
(`stream_interrupted` with the partial text) — never a hang — and the session is charged for exactly the
tokens the client received, its node shares adding up (docs/protocol.md, docs/architecture.md "One request").
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from farlabs_devtools.localmesh import LocalMesh, NodeSpec
from farlabs_devtools.sse import iter_events
from farlabs_devtools.testing import TINY_MODEL_ID, db_fetch, wait_for_final_session

REGION = "fault-zone"
PRICE = Decimal("0.0001")
MAX_TOKENS = 48
TUNING = ["--torch-threads", "1", "--update-period", "5", "--client-update-period", "3", "--request-timeout", "10"]


def _node_status(mesh: LocalMesh, api_key: str, name: str) -> str | None:
    r = httpx.get(f"{mesh.url}/nodes/active", headers={"Authorization": f"Bearer {api_key}"}, timeout=30)
    r.raise_for_status()
    return next((n["status"] for n in r.json()["nodes"] if n["node_name"] == name), None)


@pytest.fixture(scope="module")
def fault_node(mesh: LocalMesh, api_key: str, covered: dict[str, Any]) -> Iterator[str]:
    """`node-fault`, online; afterwards the mesh is as it was (the node gone from discovery and the swarm)."""
    # `covered` first: the session's snapshot of the mesh must not include this node.
    child = mesh.start_node(NodeSpec("node-fault", "2:4", region=REGION), *TUNING)
    try:
        mesh.wait_ready([child])
        deadline = time.monotonic() + 60
        while _node_status(mesh, api_key, "node-fault") != "online":
            assert time.monotonic() < deadline, "node-fault never showed online in discovery"
            time.sleep(0.3)
        yield "node-fault"
    finally:
        mesh.kill("node-fault")
        child.proc.wait(timeout=30)
        # Leave only once discovery has dropped it (3 missed 2 s beats) and the swarm's DHT record of its blocks
        # has expired (announced every 5 s), so later tests see the session mesh as it was.
        deadline = time.monotonic() + 60
        while _node_status(mesh, api_key, "node-fault") is not None and time.monotonic() < deadline:
            time.sleep(0.5)
        time.sleep(12)


@pytest.mark.slow
def test_a_node_killed_mid_stream_gives_a_whole_answer_or_a_clean_error_and_charges_what_was_delivered(
        mesh: LocalMesh, api_key: str, fault_node: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    body = {"prompt": "Tell me a long story about a lighthouse", "max_tokens": MAX_TOKENS, "temperature": 0,
            "model_id": TINY_MODEL_ID}
    # What the swarm answers undisturbed (greedy: a resumed generation must end the same).
    reference = httpx.post(f"{mesh.url}/mesh/inference/generate", headers=headers, timeout=120,
                           json={**body, "stream": False, "request_id": f"kill-ref-{time.time_ns()}"})
    assert reference.status_code == 200, reference.text

    request_id = f"kill-{time.time_ns()}"
    tokens: list[dict[str, Any]] = []
    ending: list[tuple[str, dict[str, Any]]] = []
    killed = False
    # The timeout is far above an honest answer: running into it is the hang this test is about.
    with httpx.stream("POST", f"{mesh.url}/mesh/inference/generate", headers=headers, timeout=180,
                      json={**body, "request_id": request_id, "region": REGION}) as r:
        assert r.status_code == 200, r.read()
        for event, data in iter_events(r):
            if event == "message":
                tokens.append(data)
                if len(tokens) == 3 and not killed:
                    mesh.kill(fault_node)  # SIGKILL to its whole process group: gateway and Petals server
                    killed = True
            else:
                ending.append((event, data))
    assert killed, f"the stream ended after {len(tokens)} tokens, before the kill"
    assert len(ending) == 1, ending  # one final event, then the stream ended
    kind, final = ending[0]
    # An event carries one token's text, or a few tokens' when their text only decodes together (so counts may skip).
    counts = [t["tokens_generated"] for t in tokens]
    assert counts == sorted(set(counts)) and all(Decimal(t["cost_far"]) == PRICE * t["tokens_generated"] for t in tokens)
    delivered = counts[-1]
    text = "".join(t["token"] for t in tokens)

    print(f"node killed after {counts[2]} tokens; the stream ended with {kind} after {delivered}")  # for the log
    session = wait_for_final_session(mesh, request_id)
    [row] = db_fetch(mesh, """SELECT s.id, s.status, s.tokens_generated, s.cost_far, s.platform_fee_far,
                                     s.gateway_attempts, convert_from(s.completion_text, 'UTF8') AS text
                              FROM far_mesh_sessions s WHERE s.request_id = $1""", request_id)
    shares = db_fetch(mesh, """SELECT n.node_name, c.tokens_contributed, c.payment_far FROM far_session_contributions c
                               JOIN far_nodes n ON n.id = c.node_id WHERE c.session_id = $1""", row["id"])
    # Charged for exactly what the client received, and the shares add up to it.
    assert row["tokens_generated"] == delivered and row["cost_far"] == PRICE * delivered, dict(row)
    assert row["text"] == text
    assert sum(s["payment_far"] for s in shares) == row["cost_far"] - row["platform_fee_far"]
    # The killed node is credited only for the tokens its gateway produced before it died.
    fault_shares = [s for s in shares if s["node_name"] == fault_node]
    assert all(3 <= s["tokens_contributed"] < delivered for s in fault_shares) or kind == "error", shares

    if kind == "done":  # resumed on another gateway: one continuous, complete answer
        assert session["status"] == "completed" and row["gateway_attempts"] >= 2, dict(row)
        assert fault_shares, shares
        assert final["text"] == text == reference.json()["text"]
        assert final["usage"]["completion_tokens"] == delivered == reference.json()["usage"]["completion_tokens"]
        assert Decimal(final["cost_far"]) == row["cost_far"]
    else:  # no gateway could resume: a clean error carrying what had arrived
        assert kind == "error", ending
        assert final["error"]["type"] == "stream_interrupted" and final["error"]["partial_text"] == text, final
        assert session["status"] == "failed"

    # The mesh still serves without the dead node.
    after = httpx.post(f"{mesh.url}/mesh/inference/generate", headers=headers, timeout=120,
                       json={**body, "max_tokens": 4, "stream": False, "request_id": f"kill-after-{time.time_ns()}"})
    assert after.status_code == 200, after.text
