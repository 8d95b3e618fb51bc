"""The coordinator end to end over real HTTP: live server, real PostgreSQL, synthetic gateways for faults.

The same paths through a real Petals swarm are covered by the cross-package tests in tests/ (node-kit).
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import httpx
import pytest

from farlabs_devtools.sse import Event, iter_events, post_events
from farlabs_devtools.testing import (
    MODEL,
    Behaviour,
    LiveServer,
    SyntheticGateway,
    add_node,
    auth,
    expected_text,
    new_api_key,
    serve_in_thread,
    sql,
)
from farlabs_server.app import create_app
from farlabs_server.coordinator.gateway_choice import NodeCache
from farlabs_server.settings import Settings


def generate(live: LiveServer, key: str, **body: Any) -> list[Event]:
    payload = {"prompt": "Explain quantum computing in simple terms", "max_tokens": 5, "model_id": MODEL, **body}
    return post_events(live.url + "/mesh/inference/generate", payload, headers=auth(key), timeout_s=30)


@pytest.fixture
def gateway() -> Iterator[SyntheticGateway]:
    with SyntheticGateway() as gw:
        yield gw


def test_stream_is_the_plans_event_format_and_is_recorded(live: LiveServer, key: str, database_url: str) -> None:
    with SyntheticGateway() as gw:
        a = add_node(live, "nodeA", gw, start=0, end=1)
        b = add_node(live, "nodeB", None, start=1, end=4)
        gw.behaviour.route = [{"peer_id": "12D3KooWnodeA", "start_block": 0, "end_block": 1},
                              {"peer_id": "12D3KooWnodeB", "start_block": 1, "end_block": 4}]
        events = generate(live, key, request_id="test_001", user_wallet="0x" + "12" * 20)

    tokens = [data for name, data in events if name == "message"]
    assert tokens[0] == {"token": " w0", "request_id": "test_001", "tokens_generated": 1, "cost_far": "0.0001"}
    assert tokens[1] == {"token": " w1", "request_id": "test_001", "tokens_generated": 2, "cost_far": "0.0002"}
    assert len(tokens) == 5
    name, done = events[-1]
    assert name == "done"
    assert done["finish_reason"] == "length" and done["text"] == expected_text(5) and done["cost_far"] == "0.0005"
    assert done["usage"] == {"prompt_tokens": 7, "completion_tokens": 5, "total_tokens": 12}
    assert [(h["peer_id"], h["start_block"], h["end_block"]) for h in done["route"]] == [
        ("12D3KooWnodeA", 0, 1), ("12D3KooWnodeB", 1, 4)]

    [session] = sql(database_url, "SELECT * FROM far_mesh_sessions WHERE request_id = 'test_001'")
    assert session["status"] == "completed" and session["tokens_generated"] == 5
    assert session["cost_far"] == Decimal("0.0005") and session["time_to_first_token_ms"] is not None
    assert str(session["id"]) == done["session_id"]
    shares = {str(r["node_id"]): r for r in sql(
        database_url, "SELECT * FROM far_session_contributions WHERE session_id = $1", session["id"])}
    # Pay by block-tokens: A did 5 x 1, B did 5 x 3 → 1/4 and 3/4 of the cost.
    assert shares[a["node_id"]]["payment_far"] == Decimal("0.000125")
    assert shares[b["node_id"]]["payment_far"] == Decimal("0.000375")
    assert shares[b["node_id"]]["block_tokens"] == 15

    # The node sees it in its next heartbeat.
    beat = httpx.post(live.url + "/nodes/heartbeat", headers=auth(b["node_token"]), json={}).json()
    assert beat["tokens_credited"] == 5 and Decimal(beat["earned_far"]) == Decimal("0.000375")


def test_keep_alive_comments_while_the_swarm_is_quiet(live: LiveServer, key: str) -> None:
    with SyntheticGateway(Behaviour(token_delay_s=0.7)) as slow:
        add_node(live, "nodeA", slow)
        with httpx.stream("POST", live.url + "/mesh/inference/generate", headers=auth(key), timeout=30,
                          json={"prompt": "x", "max_tokens": 3, "model_id": MODEL}) as r:
            r.read()  # the raw stream, for its comments; then its events
            events = list(iter_events(r))
    assert any(line.startswith(":") for line in r.text.splitlines())
    assert "".join(d["token"] for n, d in events if n == "message") == expected_text(3)


def test_text_with_nul_characters_is_recorded_and_replayed(live: LiveServer, key: str, database_url: str) -> None:
    with SyntheticGateway(Behaviour(token_suffix="\x00")) as gw:
        add_node(live, "nodeA", gw)
        first = generate(live, key, request_id="nul-1", max_tokens=3)
        again = generate(live, key, request_id="nul-1", max_tokens=3)
    assert first[-1][0] == "done" and first[-1][1]["text"] == " w0\x00 w1\x00 w2\x00"
    assert again[-1][1]["text"] == first[-1][1]["text"] and len(gw.requests) == 1
    [row] = sql(database_url, "SELECT status FROM far_mesh_sessions WHERE request_id = 'nul-1'")
    assert row["status"] == "completed"


def test_non_streaming_json(live: LiveServer, key: str, gateway: SyntheticGateway) -> None:
    add_node(live, "nodeA", gateway)
    response = httpx.post(live.url + "/mesh/inference/generate", headers=auth(key), timeout=30,
                          json={"messages": [{"role": "user", "content": "hi"}], "max_tokens": 3, "model_id": MODEL,
                                "stream": False})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["text"] == expected_text(3) and body["cost_far"] == "0.0003" and body["finish_reason"] == "length"
    assert gateway.requests[0]["messages"] == [{"role": "user", "content": "hi"}]


def test_repeated_request_id_is_not_charged_twice(live: LiveServer, key: str, gateway: SyntheticGateway,
                                                   database_url: str) -> None:
    add_node(live, "nodeA", gateway)
    first = generate(live, key, request_id="same-1")
    again = generate(live, key, request_id="same-1", stream=True)
    assert first[-1][1]["session_id"] == again[-1][1]["session_id"]
    assert first[-1][1]["text"] == again[-1][1]["text"]
    assert len(gateway.requests) == 1
    assert sql(database_url, "SELECT count(*) AS n FROM far_mesh_sessions")[0]["n"] == 1
    assert sql(database_url, "SELECT count(*) AS n FROM far_session_contributions")[0]["n"] == 1
    # The same key with another body is a conflict, not a silent replay.
    response = httpx.post(live.url + "/mesh/inference/generate", headers=auth(key),
                          json={"prompt": "other", "request_id": "same-1", "model_id": MODEL})
    assert response.status_code == 409 and response.json()["error"]["code"] == "request_id_reused"


def test_another_keys_request_id_is_a_conflict_not_a_replay(live: LiveServer, key: str, gateway: SyntheticGateway,
                                                          database_url: str) -> None:
    add_node(live, "nodeA", gateway)
    body = {"prompt": "secret question", "max_tokens": 2, "model_id": MODEL, "request_id": "mine-1", "stream": False}
    assert httpx.post(live.url + "/mesh/inference/generate", headers=auth(key), json=body, timeout=30).status_code == 200
    other = httpx.post(live.url + "/mesh/inference/generate", headers=auth(new_api_key(database_url)), json=body)
    assert other.status_code == 409 and other.json()["error"]["code"] == "request_id_reused"


def test_a_retry_of_a_request_that_never_started_tries_again(live: LiveServer, key: str, database_url: str) -> None:
    body = {"prompt": "x", "max_tokens": 2, "model_id": MODEL, "request_id": "retry-1", "stream": False}
    with SyntheticGateway(Behaviour(fail_status=503)) as bad:
        add_node(live, "nodeA", bad)
        assert httpx.post(live.url + "/mesh/inference/generate", headers=auth(key), json=body).status_code == 503
    with SyntheticGateway() as good:
        add_node(live, "nodeB", good)
        again = httpx.post(live.url + "/mesh/inference/generate", headers=auth(key), json=body, timeout=30)
    assert again.status_code == 200, again.text
    [row] = sql(database_url, "SELECT id, status, tokens_generated FROM far_mesh_sessions WHERE request_id = 'retry-1'")
    assert str(row["id"]) == again.json()["session_id"] and row["status"] == "completed" and row["tokens_generated"] == 2


def test_a_retry_while_the_first_attempt_runs_joins_it(live: LiveServer, key: str) -> None:
    """A client that gave up waiting and retried with the same id gets the first attempt's answer, once."""
    import anyio

    with SyntheticGateway(Behaviour(token_delay_s=0.1)) as slow:
        add_node(live, "nodeA", slow)
        answers: list[dict[str, Any]] = []

        async def ask(delay: float) -> None:
            await anyio.sleep(delay)
            async with httpx.AsyncClient(timeout=30) as client:
                r = await client.post(live.url + "/mesh/inference/generate", headers=auth(key), json={
                    "prompt": "x", "max_tokens": 8, "model_id": MODEL, "request_id": "join-1", "stream": False})
                assert r.status_code == 200, r.text
                answers.append(r.json())

        async def main() -> None:
            async with anyio.create_task_group() as tg:
                tg.start_soon(ask, 0.0)
                tg.start_soon(ask, 0.3)

        anyio.run(main)
    assert len(slow.requests) == 1
    assert answers[0]["session_id"] == answers[1]["session_id"] and answers[0]["text"] == answers[1]["text"]


def test_idempotency_key_header_names_the_request(live: LiveServer, key: str, gateway: SyntheticGateway) -> None:
    add_node(live, "nodeA", gateway)
    headers = {**auth(key), "Idempotency-Key": "idem-42"}
    for _ in range(2):
        response = httpx.post(live.url + "/mesh/inference/generate", headers=headers, timeout=30,
                              json={"prompt": "hi", "max_tokens": 2, "model_id": MODEL, "stream": False})
        assert response.json()["request_id"] == "idem-42"
    assert len(gateway.requests) == 1


def test_a_failing_gateway_is_replaced_before_the_first_token(live: LiveServer, key: str, database_url: str) -> None:
    with SyntheticGateway(Behaviour(fail_status=503)) as bad, SyntheticGateway() as good:
        add_node(live, "nodeA", bad)
        add_node(live, "nodeB", good)
        # Make the bad one look best, so it is tried first.
        events = generate(live, key, request_id="failover-1")
        assert events[-1][0] == "done" and events[-1][1]["text"] == expected_text(5)
        assert len(good.requests) == 1
    [session] = sql(database_url, "SELECT gateway_attempts FROM far_mesh_sessions WHERE request_id = 'failover-1'")
    assert session["gateway_attempts"] in (1, 2)


def test_a_gateway_dying_mid_stream_is_resumed_on_another(live: LiveServer, key: str, database_url: str) -> None:
    dies = Behaviour(die_after=3, token_delay_s=0.01)  # its tokens arrive one by one; the 3rd with the hang-up
    with SyntheticGateway(dies) as dying, SyntheticGateway(dies) as other:
        add_node(live, "nodeA", dying)
        add_node(live, "nodeB", other)
        # Whichever goes first dies after 3 tokens; the other resumes from token 3 and also dies after 3 more.
        with SyntheticGateway() as third:
            add_node(live, "nodeC", third)
            events = generate(live, key, request_id="resume-1", max_tokens=10)
    tokens = [d["token"] for n, d in events if n == "message"]
    assert "".join(tokens) == expected_text(10)  # one continuous stream, nothing repeated or lost
    assert [d["tokens_generated"] for n, d in events if n == "message"] == list(range(1, 11))
    assert events[-1][0] == "done" and events[-1][1]["usage"]["completion_tokens"] == 10
    # A resume carries exactly the ids the client already had. A token that arrived together with the hang-up
    # may not reach the coordinator (aiohttp drops what it buffered when the connection breaks): it is then
    # generated again by the next node, never repeated or lost, and only delivered tokens are paid.
    resumed = [r["prefix_token_ids"] for gw in (dying, other, third) for r in gw.requests if r["prefix_token_ids"]]
    assert resumed and resumed[0] in ([0, 1], [0, 1, 2])
    assert all(prefix == list(range(len(prefix))) for prefix in resumed)
    [session] = sql(database_url, "SELECT * FROM far_mesh_sessions WHERE request_id = 'resume-1'")
    assert session["tokens_generated"] == 10 and session["cost_far"] == Decimal("0.001")
    paid = sql(database_url, "SELECT sum(payment_far) AS s, sum(tokens_contributed) AS t FROM far_session_contributions")
    assert paid[0]["s"] == Decimal("0.001") and paid[0]["t"] == 10


def test_a_stalled_gateway_is_abandoned_after_the_idle_timeout(live: LiveServer, key: str) -> None:
    with SyntheticGateway(Behaviour(stall_after=2)) as stalled, SyntheticGateway(Behaviour(stall_after=2)) as s2:
        add_node(live, "nodeA", stalled)
        add_node(live, "nodeB", s2)
        with SyntheticGateway() as fine:
            add_node(live, "nodeC", fine)
            events = generate(live, key, max_tokens=6)
    assert "".join(d["token"] for n, d in events if n == "message") == expected_text(6)


def test_stream_interrupted_when_no_gateway_can_resume(live: LiveServer, key: str, database_url: str) -> None:
    with SyntheticGateway(Behaviour(die_after=2)) as only:
        add_node(live, "nodeA", only)
        events = generate(live, key, request_id="broken-1", max_tokens=5)
    assert [d["token"] for n, d in events if n == "message"] == [" w0", " w1"]
    name, error = events[-1]
    assert name == "error" and error["error"]["type"] == "stream_interrupted"
    assert error["error"]["partial_text"] == " w0 w1"
    [session] = sql(database_url, "SELECT * FROM far_mesh_sessions WHERE request_id = 'broken-1'")
    assert session["status"] == "failed" and session["tokens_generated"] == 2


def test_client_disconnect_stops_upstream_and_records_cancelled(live: LiveServer, key: str, database_url: str) -> None:
    with SyntheticGateway(Behaviour(token_delay_s=0.05)) as slow:
        add_node(live, "nodeA", slow)
        with httpx.stream("POST", live.url + "/mesh/inference/generate", headers=auth(key), timeout=30,
                          json={"prompt": "x", "max_tokens": 500, "model_id": MODEL, "request_id": "gone-1"}) as r:
            for seen, _ in enumerate(iter_events(r), start=1):
                if seen == 3:
                    break
        assert slow.cancelled.wait(5), "the gateway kept generating after the client left"
        assert not slow.finished.is_set()
    deadline = threading.Event()
    for _ in range(50):
        rows = sql(database_url, "SELECT * FROM far_mesh_sessions WHERE request_id = 'gone-1'")
        if rows and rows[0]["status"] != "pending":
            break
        deadline.wait(0.1)
    [session] = rows
    assert session["status"] == "cancelled" and session["finish_reason"] == "cancelled"
    assert 3 <= session["tokens_generated"] < 500


def test_a_finished_stream_keeps_the_gateway_connection_and_a_cut_one_still_stops_it(live: LiveServer,
                                                                                    key: str) -> None:
    with SyntheticGateway(Behaviour(token_delay_s=0.02)) as gw:
        add_node(live, "nodeA", gw)
        generate(live, key, max_tokens=3)
        generate(live, key, max_tokens=3)
        assert len(gw.client_ports) == 2 and gw.client_ports[0] == gw.client_ports[1], "a new connection per request"
        # The next stream goes out on that kept-alive connection; the client leaving still stops it at once.
        with httpx.stream("POST", live.url + "/mesh/inference/generate", headers=auth(key), timeout=30,
                          json={"prompt": "x", "max_tokens": 500, "model_id": MODEL, "request_id": "gone-2"}) as r:
            for seen, _ in enumerate(iter_events(r), start=1):
                if seen == 3:
                    break
        assert gw.client_ports[2] == gw.client_ports[0]
        assert gw.cancelled.wait(5), "the gateway kept generating after the client left"


def test_no_capacity_and_unknown_model(live: LiveServer, key: str) -> None:
    response = httpx.post(live.url + "/mesh/inference/generate", headers=auth(key),
                          json={"prompt": "x", "model_id": "nobody/serves-this"})
    assert response.status_code == 404 and response.json()["error"]["code"] == "model_not_found"
    add_node(live, "nodeA", None)  # registered, but no gateway
    response = httpx.post(live.url + "/mesh/inference/generate", headers=auth(key), json={"prompt": "x", "model_id": MODEL})
    assert response.status_code == 503 and response.json()["error"]["type"] == "overloaded_error"
    assert response.headers["retry-after"] == "5"


def test_every_gateway_refusing_gives_503_before_any_byte(live: LiveServer, key: str) -> None:
    with SyntheticGateway(Behaviour(fail_status=503)) as bad:
        add_node(live, "nodeA", bad)
        response = httpx.post(live.url + "/mesh/inference/generate", headers=auth(key),
                              json={"prompt": "x", "model_id": MODEL})
    assert response.status_code == 503 and response.headers["content-type"] == "application/json"


def test_context_length_error_is_the_callers_and_not_retried(live: LiveServer, key: str) -> None:
    with SyntheticGateway(Behaviour(fail_status=400, fail_error_type="context_length_exceeded")) as gw, \
            SyntheticGateway() as other:
        add_node(live, "nodeA", gw)
        add_node(live, "nodeB", other)
        response = httpx.post(live.url + "/mesh/inference/generate", headers=auth(key),
                              json={"prompt": "x", "model_id": MODEL, "max_tokens": 4000})
        tried = len(gw.requests) + len(other.requests)
    if response.status_code == 200:  # the healthy gateway happened to be first
        assert len(other.requests) == 1
    else:
        assert response.status_code == 400 and response.json()["error"]["type"] == "context_length_exceeded"
        assert tried == 1


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"prompt": "x", "max_tokens": 0}, "max_tokens"),
        ({"prompt": "x", "max_tokens": 100_000}, "max_tokens"),
        ({"prompt": "x", "max_tokens": "many"}, "max_tokens"),
        ({"prompt": 42}, "prompt"),
        ({"prompt": "x", "temperature": 9}, "temperature"),
        ({"prompt": "x", "stop": ["a", "b", "c", "d", "e"]}, "stop"),
        ({"prompt": "x", "user_wallet": "0xnope"}, "user_wallet"),
        ({"max_tokens": 5}, None),
        ({"prompt": "x", "messages": [{"role": "user", "content": "y"}]}, None),
        ({"messages": [{"role": "wizard", "content": "y"}]}, "messages.0.role"),
    ],
)
def test_bad_requests_get_422(live: LiveServer, key: str, body: dict[str, Any], param: str | None) -> None:
    response = httpx.post(live.url + "/mesh/inference/generate", headers=auth(key), json=body)
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    if param:
        assert error["param"] == param


def test_fallback_to_local_mode_below_the_node_threshold(live: LiveServer, key: str) -> None:
    live.app.state.coordinator.config = live.app.state.coordinator.config.__class__(  # type: ignore[attr-defined]
        min_swarm_nodes=3, idle_timeout_s=2, first_token_timeout_s=5)
    with SyntheticGateway() as swarm_gw, SyntheticGateway() as local_gw:
        add_node(live, "nodeA", swarm_gw, start=0, end=2)
        add_node(live, "nodeB", None, start=2, end=4)
        add_node(live, "centra", local_gw, mode="local")
        generate(live, key)
        assert len(local_gw.requests) == 1 and not swarm_gw.requests  # 2 swarm nodes < 3: central fallback
        add_node(live, "nodeC", None, start=0, end=4)
        generate(live, key)
        assert len(swarm_gw.requests) == 1  # 3 distinct nodes cover the model: the swarm again


def test_region_hint_prefers_matching_gateways(live: LiveServer, key: str) -> None:
    with SyntheticGateway() as eu, SyntheticGateway() as us:
        add_node(live, "nodeEU", eu, region="eu-west")
        add_node(live, "nodeUS", us, region="us-east")
        for _ in range(2):
            generate(live, key, region="us-east")
        assert len(us.requests) == 2 and not eu.requests


def test_ten_concurrent_requests_all_complete(live: LiveServer, key: str, database_url: str) -> None:
    """The plan's load test: 10 concurrent requests, each recorded correctly."""
    import anyio

    with SyntheticGateway(Behaviour(token_delay_s=0.01)) as a, SyntheticGateway(Behaviour(token_delay_s=0.01)) as b:
        add_node(live, "nodeA", a)
        add_node(live, "nodeB", b)
        results: list[dict[str, Any]] = []

        async def one(i: int, client: httpx.AsyncClient) -> None:
            r = await client.post("/mesh/inference/generate", json={
                "prompt": f"q{i}", "max_tokens": 8, "model_id": MODEL, "request_id": f"load-{i}", "stream": False})
            assert r.status_code == 200, r.text
            results.append(r.json())

        async def main() -> None:
            async with httpx.AsyncClient(base_url=live.url, headers=auth(key), timeout=30) as client, \
                    anyio.create_task_group() as tg:
                for i in range(10):
                    tg.start_soon(one, i, client)

        anyio.run(main)
    assert len(results) == 10 and all(r["text"] == expected_text(8) for r in results)
    rows = sql(database_url, "SELECT status, tokens_generated, cost_far FROM far_mesh_sessions WHERE request_id LIKE 'load-%'")
    assert len(rows) == 10 and all(r["status"] == "completed" and r["tokens_generated"] == 8 for r in rows)
    assert sum(r["cost_far"] for r in rows) == Decimal("0.008")
    assert sql(database_url, "SELECT sum(payment_far) AS s FROM far_session_contributions")[0]["s"] == Decimal("0.008")


def test_generation_metrics_are_exported(live: LiveServer, key: str, gateway: SyntheticGateway) -> None:
    add_node(live, "nodeA", gateway)
    generate(live, key)
    text = httpx.get(live.url + "/metrics").text
    assert "farlabs:time_to_first_token_seconds_count 1.0" in text
    assert "farlabs:inter_token_latency_seconds_count 4.0" in text
    assert "farlabs:generation_tokens_total 5.0" in text
    assert "farlabs:time_to_first_token_seconds_p95 " in text and "farlabs:inter_token_latency_seconds_p95 " in text


def test_node_cache_keeps_a_read_for_its_ttl_and_only_a_read_that_found_nodes() -> None:
    now = [100.0]
    cache = NodeCache(1.0, clock=lambda: now[0])
    cache.put("m", ["row"])  # type: ignore[list-item]
    cache.put("empty", [])
    assert cache.get("m") == ["row"] and cache.get("empty") is None
    now[0] += 1.0
    assert cache.get("m") is None  # expired
    cache.put("m", ["row"])  # type: ignore[list-item]
    cache.clear()
    assert cache.get("m") is None
    off = NodeCache(0.0, clock=lambda: now[0])
    off.put("m", ["row"])  # type: ignore[list-item]
    assert off.get("m") is None


def test_a_node_gone_within_the_cache_ttl_is_failed_over(live_settings: Settings, database_url: str) -> None:
    """Another replica saw the node go (here: its row changed behind this replica's back); this replica still
    has it cached, tries it, and serves the request from the next gateway, as for any failed gateway."""
    app = create_app(live_settings.model_copy(update={"node_cache_s": 30.0}))
    url, stop = serve_in_thread(app)
    live = LiveServer(url=url, app=app)
    try:
        key = new_api_key(database_url)
        with SyntheticGateway() as good:
            with SyntheticGateway() as doomed:
                add_node(live, "nodeA", doomed)
                good_id = add_node(live, "nodeB", good)["node_id"]
                app.state.coordinator.stats.penalize(uuid.UUID(good_id))  # so that the doomed one goes first
                generate(live, key, request_id="cached-1")
                assert len(doomed.requests) == 1 and not good.requests
            sql(database_url, "UPDATE far_nodes SET status = 'offline' WHERE node_name = 'nodeA'")  # and gone
            events = generate(live, key, request_id="cached-2")
        assert events[-1][0] == "done" and events[-1][1]["text"] == expected_text(5) and len(good.requests) == 1
        [session] = sql(database_url, "SELECT gateway_attempts FROM far_mesh_sessions WHERE request_id = 'cached-2'")
        assert session["gateway_attempts"] == 2  # the cached, gone node first
        assert [r.node_id for r in app.state.ctx.node_cache.get(MODEL)] != []  # still the cached read
    finally:
        stop()
