"""The plan's end-to-end test (section 2.3) on a real mesh: SDK-less HTTP → coordinator → gateway → Petals swarm.

Stream arrives token by token; the session and each node's contribution are recorded with the right shares
and costs; the node sees its tokens in its next heartbeat.
"""

from __future__ import annotations

import re
import time
from decimal import Decimal
from typing import Any

import anyio
import httpx

from farlabs_devtools.localmesh import LocalMesh
from farlabs_devtools.sse import Event, iter_events, post_events
from farlabs_devtools.testing import TINY_MODEL_ID, db_fetch, wait_for_final_session


def stream(mesh: LocalMesh, api_key: str, body: dict[str, Any]) -> list[Event]:
    return post_events(f"{mesh.url}/mesh/inference/generate", body, headers={"Authorization": f"Bearer {api_key}"},
                       timeout_s=120)


def test_nodes_register_and_show_in_discovery(mesh: LocalMesh, api_key: str, covered: dict[str, Any]) -> None:
    spans = sorted((n["start_block"], n["end_block"]) for n in covered["nodes"])
    assert spans == [(0, 2), (2, 4)] and covered["total_blocks"] == 4
    active = httpx.get(f"{mesh.url}/nodes/active", headers={"Authorization": f"Bearer {api_key}"}).json()["nodes"]
    names = {n["node_name"] for n in active}
    assert {"node-a", "node-b"} <= names
    node = next(n for n in active if n["node_name"] == "node-a")
    assert node["peer_id"].startswith(("12D3KooW", "Qm")) and node["gateway_url"].startswith("http://127.0.0.1:")
    assert node["hardware"].get("ram_total_gb", 0) > 0


def test_plan_2_3_end_to_end(mesh: LocalMesh, api_key: str, covered: dict[str, Any]) -> None:
    request_id = f"test_001_{int(time.time())}"
    events = stream(mesh, api_key, {"prompt": "Explain quantum computing in simple terms", "max_tokens": 12,
                                    "temperature": 0, "request_id": request_id, "model_id": TINY_MODEL_ID,
                                    "user_wallet": "0x" + "ab" * 20})
    tokens = [d for name, d in events if name == "message"]
    name, done = events[-1]
    assert name == "done", events[-1]
    assert 1 <= len(tokens) <= 12
    for i, token in enumerate(tokens, start=1):
        assert set(token) == {"token", "request_id", "tokens_generated", "cost_far"}
        assert token["request_id"] == request_id and token["tokens_generated"] >= i
        assert Decimal(token["cost_far"]) == Decimal("0.0001") * token["tokens_generated"]
    generated = done["usage"]["completion_tokens"]
    assert done["text"] == "".join(t["token"] for t in tokens)
    assert Decimal(done["cost_far"]) == Decimal("0.0001") * generated
    # The route names both Petals servers and their spans.
    assert sorted((h["start_block"], h["end_block"]) for h in done["route"]) == [(0, 2), (2, 4)]
    assert all(h["node_id"] for h in done["route"])

    [session] = db_fetch(mesh, "SELECT * FROM far_mesh_sessions WHERE request_id = $1", request_id)
    assert session["status"] == "completed" and session["tokens_generated"] == generated
    assert session["cost_far"] == Decimal("0.0001") * generated
    contributions = db_fetch(mesh, "SELECT c.*, n.node_name FROM far_session_contributions c "
                                   "JOIN far_nodes n ON n.id = c.node_id WHERE session_id = $1", session["id"])
    by_node = {c["node_name"]: c for c in contributions}
    assert set(by_node) == {"node-a", "node-b"}
    # Each served 2 of 4 blocks for every token: equal shares that add up to the cost exactly.
    assert by_node["node-a"]["block_tokens"] == by_node["node-b"]["block_tokens"] == 2 * generated
    assert sum(c["payment_far"] for c in contributions) == session["cost_far"]
    assert abs(by_node["node-a"]["payment_far"] - by_node["node-b"]["payment_far"]) <= Decimal("1e-18")

    # The node's next heartbeat shows the tokens the coordinator credited.
    node_a = mesh.child("node-a")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        counts = [int(n) for n in re.findall(r"\[Heartbeat\] Tokens: (\d+)", node_a.log())]
        if counts and counts[-1] >= generated:
            break
        time.sleep(0.5)
    else:
        raise AssertionError(f"no heartbeat showed the tokens:\n{node_a.log()[-2000:]}")


def test_openai_client_through_the_swarm(mesh: LocalMesh, api_key: str, covered: dict[str, Any]) -> None:
    import openai

    client = openai.OpenAI(base_url=f"{mesh.url}/v1", api_key=api_key, max_retries=0)
    completion = client.chat.completions.create(model=TINY_MODEL_ID, max_tokens=6, temperature=0,
                                                messages=[{"role": "user", "content": "Hello"}])
    text = completion.choices[0].message.content
    assert completion.usage is not None and completion.usage.completion_tokens >= 1
    streamed = "".join(c.choices[0].delta.content or "" for c in client.chat.completions.create(
        model=TINY_MODEL_ID, max_tokens=6, temperature=0, stream=True, messages=[{"role": "user", "content": "Hello"}])
        if c.choices)
    assert streamed == text  # greedy: the same answer streamed or not


def test_unknown_model_and_bad_requests(mesh: LocalMesh, api_key: str) -> None:
    headers = {"Authorization": f"Bearer {api_key}"}
    r = httpx.post(f"{mesh.url}/mesh/inference/generate", headers=headers, json={"prompt": "x", "model_id": "no/model"})
    assert r.status_code == 404 and r.json()["error"]["code"] == "model_not_found"
    r = httpx.post(f"{mesh.url}/mesh/inference/generate", headers=headers,
                   json={"prompt": "x", "model_id": TINY_MODEL_ID, "max_tokens": 0})
    assert r.status_code == 422 and r.json()["error"]["param"] == "max_tokens"


def test_ten_concurrent_requests_through_the_swarm(mesh: LocalMesh, api_key: str, covered: dict[str, Any]) -> None:
    """The plan's load test: 10 concurrent requests all complete, each recorded with its contributions."""
    stamp = int(time.time())

    async def main() -> list[dict[str, Any]]:
        results: list[dict[str, Any]] = []
        async with httpx.AsyncClient(base_url=mesh.url, timeout=180,
                                     headers={"Authorization": f"Bearer {api_key}"}) as client:

            async def one(i: int) -> None:
                r = await client.post("/mesh/inference/generate", json={
                    "prompt": f"Question number {i}:", "max_tokens": 8, "temperature": 0, "stream": False,
                    "model_id": TINY_MODEL_ID, "request_id": f"load-{stamp}-{i}"})
                assert r.status_code == 200, r.text
                results.append(r.json())

            async with anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(one, i)
        return results

    results = anyio.run(main)
    assert len(results) == 10 and all(r["usage"]["completion_tokens"] >= 1 for r in results)
    rows = db_fetch(mesh, "SELECT s.status, s.cost_far, sum(c.payment_far) AS paid, count(c.id) AS shares "
                          "FROM far_mesh_sessions s JOIN far_session_contributions c ON c.session_id = s.id "
                          "WHERE s.request_id LIKE $1 GROUP BY s.id", f"load-{stamp}-%")
    assert len(rows) == 10
    assert all(r["status"] == "completed" and r["paid"] == r["cost_far"] and r["shares"] == 2 for r in rows)


def test_client_disconnect_stops_the_swarm_generation(mesh: LocalMesh, api_key: str, covered: dict[str, Any]) -> None:
    request_id = f"gone-{int(time.time())}"
    with httpx.stream("POST", f"{mesh.url}/mesh/inference/generate", timeout=60,
                      headers={"Authorization": f"Bearer {api_key}"},
                      json={"prompt": "Tell me a long story", "max_tokens": 200, "temperature": 0,
                            "model_id": TINY_MODEL_ID, "request_id": request_id}) as r:
        for seen, _ in enumerate(iter_events(r), start=1):
            if seen == 3:
                break
    rows = [wait_for_final_session(mesh, request_id)]
    assert rows[0]["status"] == "cancelled", rows
    assert 3 <= rows[0]["tokens_generated"] < 200
    # The gateway let go of the work too.
    gateways = [n["gateway_url"] for n in covered["nodes"]]  # type: ignore[index]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        if all(httpx.get(f"{g}/healthz").json()["in_flight"] == 0 for g in gateways):
            break
        time.sleep(0.2)
    else:
        raise AssertionError("a gateway kept generating after the client left")
