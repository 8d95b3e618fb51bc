"""PostgreSQL stopped and started again under a running server (fault injection, issue 9).

The server process is never restarted. While the database is down every request that needs it gets a clean
503 (`overloaded_error`, `database_unavailable`, `Retry-After`) — never a 500 or a hang; once it is back,
everything works again, and nothing the server acknowledged is missing from the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal

import httpx
import pytest

from farlabs_devtools.sse import Event, iter_events
from farlabs_devtools.testing import Behaviour, ServerProcess, SyntheticGateway, expected_text, swarm_registration

MODEL = "test/tiny"
MAX_TOKENS = 5
PRICE = Decimal("0.0001")
TIMEOUT = httpx.Timeout(60)  # far above any honest answer: running into it is a hang


@dataclass
class Outcome:
    kind: str
    status: int | None  # None: no answer (an exception, e.g. a timeout)
    body: dict[str, object] | str
    headers: dict[str, str]
    sent: object  # what the request wrote: node address, tokens_served, request id
    started: float
    at: float = field(default_factory=time.monotonic)  # when the answer came


@pytest.fixture(scope="module")
def server() -> Iterator[ServerProcess]:
    with ServerProcess(FARLABS_MIN_SWARM_NODES="1", FARLABS_FIRST_TOKEN_TIMEOUT_S="10") as srv:
        yield srv


@pytest.fixture(scope="module")
def app_key(server: ServerProcess) -> str:
    r = httpx.post(server.url + "/admin/keys", headers={"Authorization": f"Bearer {server.admin_key}"},
                   json={"name": "faults-database"})
    assert r.status_code == 201, r.text
    key: str = r.json()["key"]
    return key


def _call(kind: str, sent: object, request: Callable[[], httpx.Response]) -> Outcome:
    started = time.monotonic()
    try:
        r = request()
    except httpx.HTTPError as exc:
        return Outcome(kind, None, f"{type(exc).__name__}: {exc}", {}, sent, started)
    try:
        body = r.json()
    except ValueError:
        body = r.text
    return Outcome(kind, r.status_code, body, dict(r.headers), sent, started)


def _assert_clean_outage_answer(o: Outcome) -> None:
    assert o.status == 503, o
    assert isinstance(o.body, dict), o
    error = o.body["error"]
    assert isinstance(error, dict) and error["type"] == "overloaded_error" and error["code"] == "database_unavailable", o
    assert error["request_id"] and int(o.headers["retry-after"]) >= 1, o


def _generate(client: httpx.Client, server: ServerProcess, key: str, request_id: str) -> httpx.Response:
    return client.post(server.url + "/mesh/inference/generate", headers={"Authorization": f"Bearer {key}"},
                       json={"prompt": "x", "max_tokens": MAX_TOKENS, "model_id": MODEL, "stream": False,
                             "request_id": request_id})


def test_requests_during_a_database_restart_get_503_and_nothing_acknowledged_is_lost(
        server: ServerProcess, app_key: str) -> None:
    pid = server.proc.pid if server.proc else None
    app = {"Authorization": f"Bearer {app_key}"}
    with SyntheticGateway(Behaviour(token_delay_s=0.005)) as gateway:
        reg = httpx.post(server.url + "/nodes/register",
                         json=swarm_registration("db-gw", model_id=MODEL, gateway_url=gateway.url)).json()
        gateway.token = reg["gateway_token"]
        node = {"Authorization": f"Bearer {reg['node_token']}"}
        outcomes: list[Outcome] = []
        stop = threading.Event()

        def worker(kind: str, step: Callable[[httpx.Client, int], Outcome]) -> None:
            with httpx.Client(timeout=TIMEOUT) as client:
                i = 0
                while not stop.is_set():
                    i += 1
                    outcomes.append(step(client, i))
                    time.sleep(0.02)

        steps: dict[str, Callable[[httpx.Client, int], Outcome]] = {
            "heartbeat": lambda c, i: _call("heartbeat", i, lambda: c.post(
                server.url + "/nodes/heartbeat", headers=node, json={"tokens_served": i, "in_flight": 0})),
            "register": lambda c, i: _call("register", body := swarm_registration(f"db-reg-{i}", model_id=MODEL),
                                           lambda: c.post(server.url + "/nodes/register", json=body)),
            "get": lambda c, i: _call("get", None, lambda: c.get(server.url + "/nodes/active", headers=app)),
            "generate": lambda c, i: _call("generate", f"db-gen-{i}", lambda: _generate(c, server, app_key,
                                                                                         f"db-gen-{i}")),
        }
        threads = [threading.Thread(target=worker, args=item, daemon=True) for item in steps.items()]
        threads.append(threading.Thread(target=worker, daemon=True, args=("generate", lambda c, i: _call(
            "generate", f"db-gen-b{i}", lambda: _generate(c, server, app_key, f"db-gen-b{i}")))))
        for t in threads:
            t.start()
        try:
            time.sleep(1.0)
            server.stop_database()
            down_at = time.monotonic()
            time.sleep(2.0)
            server.start_database()
            up_at = time.monotonic()
            # Load goes on until every kind of request has succeeded a few times after the restart.
            deadline = up_at + 60
            while time.monotonic() < deadline:
                after = [o for o in list(outcomes) if o.started > up_at and o.status in (200, 201)]
                if len(after) >= 20 and {o.kind for o in after} == set(steps):
                    break
                time.sleep(0.2)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=90)
        assert not any(t.is_alive() for t in threads), "a request never came back"

        # Every answer was a success or the clean 503; each kind met the outage and recovered from it. (A generation
        # in flight when the database went away may wait for it to come back to record its session.)
        for o in outcomes:
            if o.status not in (200, 201):
                _assert_clean_outage_answer(o)
        assert any(o.status == 503 for o in outcomes)
        for kind in steps:
            mine = [o for o in outcomes if o.kind == kind]
            assert any(o.started < up_at and o.at > down_at for o in mine), f"{kind} never met the outage"
            assert any(o.status in (200, 201) and o.started > up_at for o in mine), f"{kind} did not recover"
        assert server.alive() and server.proc is not None and server.proc.pid == pid, "the server was restarted"
        assert "unhandled error" not in server.log()

        # Nothing acknowledged is lost. Registrations:
        acked = {o.sent["node_address"] for o in outcomes if o.kind == "register" and o.status == 201}  # type: ignore[index]
        stored = {r["node_address"] for r in server.sql("SELECT node_address FROM far_nodes")}
        assert {a.lower() for a in acked} <= {s.lower() for s in stored}
        # Heartbeats: the node's books hold the last acknowledged count (or a later one that raced its answer).
        last_acked = max(int(o.sent) for o in outcomes if o.kind == "heartbeat" and o.status == 200)  # type: ignore[call-overload]
        [row] = server.sql("SELECT tokens_served FROM far_nodes WHERE id = $1::uuid", reg["node_id"])
        assert row["tokens_served"] >= last_acked
        # Generations: each refused one is retried with its own request id after the outage; then every request id
        # has exactly one session, completed, charged once, its shares adding up.
        refused = [str(o.sent) for o in outcomes if o.kind == "generate" and o.status != 200]
        with httpx.Client(timeout=TIMEOUT) as client:
            for request_id in refused:
                retry = _call("generate", request_id, lambda rid=request_id: _generate(client, server, app_key, rid))
                assert retry.status == 200, retry
        request_ids = {str(o.sent) for o in outcomes if o.kind == "generate"}
        sessions = server.sql(
            """SELECT s.request_id, s.status, s.tokens_generated, s.cost_far, s.platform_fee_far,
                      (SELECT coalesce(sum(payment_far), 0) FROM far_session_contributions c WHERE c.session_id = s.id)
                      AS shares
               FROM far_mesh_sessions s WHERE s.request_id LIKE 'db-gen-%'""")
        assert sorted(r["request_id"] for r in sessions) == sorted(request_ids)  # one row each
        for r in sessions:
            assert (r["status"], r["tokens_generated"]) == ("completed", MAX_TOKENS), dict(r)
            assert r["cost_far"] == MAX_TOKENS * PRICE and r["shares"] == r["cost_far"] - r["platform_fee_far"], dict(r)


def test_a_stream_that_outlives_a_database_restart_is_recorded_and_charged_once(
        server: ServerProcess, app_key: str) -> None:
    """The database goes away while tokens flow and the stream ends before it is back: the answer completes and
    its session is recorded once the database returns (charged once), rather than left pending with its request
    id stuck."""
    tokens = 12
    with SyntheticGateway(Behaviour(token_delay_s=0.25)) as gateway:
        reg = httpx.post(server.url + "/nodes/register",
                         json=swarm_registration("db-stream-gw", model_id=MODEL, gateway_url=gateway.url)).json()
        gateway.token = reg["gateway_token"]
        events: list[Event] = []
        body = {"prompt": "x", "max_tokens": tokens, "model_id": MODEL, "request_id": "db-stream-1"}
        with httpx.stream("POST", server.url + "/mesh/inference/generate", json=body, timeout=TIMEOUT,
                          headers={"Authorization": f"Bearer {app_key}"}) as r:
            assert r.status_code == 200
            for event in iter_events(r):
                events.append(event)
                if len(events) == tokens - 4:  # the last tokens and the recording fall into the outage
                    server.stop_database()
                    time.sleep(2.5)
                    server.start_database()
        assert "database unavailable while recording a session" in server.log()  # the fault hit the recording
        kinds = [k for k, _ in events]
        assert kinds == ["message"] * tokens + ["done"], events[-1]
        done = events[-1][1]
        assert done["text"] == expected_text(tokens) and done["cost_far"] == str(tokens * PRICE), done
        [row] = server.sql(
            """SELECT s.status, s.tokens_generated, s.cost_far,
                      (SELECT sum(payment_far) FROM far_session_contributions c WHERE c.session_id = s.id) AS shares
               FROM far_mesh_sessions s WHERE s.request_id = 'db-stream-1'""")
        assert (row["status"], row["tokens_generated"], row["cost_far"]) == ("completed", tokens, tokens * PRICE)
        assert row["shares"] == tokens * PRICE  # no platform fee configured
        # A retry of the same request replays the recorded answer: no second generation, no second charge.
        again = httpx.post(server.url + "/mesh/inference/generate", json={**body, "stream": False}, timeout=TIMEOUT,
                           headers={"Authorization": f"Bearer {app_key}"})
        assert again.status_code == 200 and again.json()["session_id"] == done["session_id"]
        assert len(gateway.requests) == 1
