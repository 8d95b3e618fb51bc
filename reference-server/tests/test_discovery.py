"""Discovery over HTTP on a real PostgreSQL: the plan's section 2.1 endpoints and their bad inputs."""

from __future__ import annotations

from decimal import Decimal

import pytest
from eth_account import Account
from starlette.testclient import TestClient

from farlabs_devtools.testing import FakeClock, NodeIdentity, assert_error, auth, make_key, register
from farlabs_server.app import create_app
from farlabs_server.settings import Settings


def test_register_heartbeat_active_unregister(client: TestClient, identity: NodeIdentity, clock: FakeClock,
                                              app_key: str) -> None:
    reg = register(client, identity, clock)
    assert reg["status"] == "online" and reg["heartbeat_interval_s"] == 30
    assert str(reg["node_token"]).startswith("fn_") and str(reg["gateway_token"]).startswith("gw_")

    clock.advance(30)
    beat = client.post("/nodes/heartbeat", headers=auth(str(reg["node_token"])), json={
        "tokens_served": 12, "in_flight": 1, "throughput_tps": 11.5,
        "hardware": {"gpu_name": "RTX 4090", "vram_used_gb": 18.5, "vram_total_gb": 24, "gpu_temp_c": 72},
    })
    assert beat.status_code == 200, beat.text
    assert beat.json() == {"node_id": reg["node_id"], "status": "online", "tokens_credited": 0,
                           "earned_far": "0", "unpaid_far": "0", "heartbeat_interval_s": 30}

    nodes = client.get("/nodes/active", headers=auth(app_key)).json()["nodes"]
    assert [n["node_id"] for n in nodes] == [reg["node_id"]]
    node = nodes[0]
    assert node["wallet_address"] == identity.wallet.address.lower()
    assert node["hardware"]["gpu_name"] == "RTX 4090" and node["hardware"]["ram_total_gb"] == 24.0
    assert node["in_flight"] == 1 and node["status"] == "online"
    assert "token_hash" not in node and "node_token" not in node

    gone = client.post("/nodes/unregister", headers=auth(str(reg["node_token"])))
    assert gone.json() == {"node_id": reg["node_id"], "status": "offline"}
    assert client.get("/nodes/active", headers=auth(app_key)).json()["nodes"] == []
    # The token died with the registration.
    assert_error(client.post("/nodes/heartbeat", headers=auth(str(reg["node_token"])), json={}),
                 401, "authentication_error", "unknown_node_token")


def test_offline_after_three_missed_heartbeats(client: TestClient, identity: NodeIdentity, clock: FakeClock,
                                               app_key: str) -> None:
    reg = register(client, identity, clock)
    clock.advance(89)
    assert len(client.get("/nodes/active", headers=auth(app_key)).json()["nodes"]) == 1
    clock.advance(2)  # 91 s since the last beat: three beats missed
    assert client.get("/nodes/active", headers=auth(app_key)).json()["nodes"] == []
    # A late heartbeat brings it back.
    client.post("/nodes/heartbeat", headers=auth(str(reg["node_token"])), json={}).raise_for_status()
    assert len(client.get("/nodes/active", headers=auth(app_key)).json()["nodes"]) == 1


def test_reregistering_keeps_the_node_and_retires_the_old_token(client: TestClient, identity: NodeIdentity,
                                                                clock: FakeClock) -> None:
    first = register(client, identity, clock)
    clock.advance(1)
    second = register(client, identity, clock, start_block=2, end_block=4)
    assert second["node_id"] == first["node_id"]
    assert second["gateway_token"] != first["gateway_token"]
    assert_error(client.post("/nodes/heartbeat", headers=auth(str(first["node_token"])), json={}),
                 401, "authentication_error", "unknown_node_token")
    assert client.post("/nodes/heartbeat", headers=auth(str(second["node_token"])), json={}).status_code == 200


def test_model_nodes_reports_block_coverage(client: TestClient, clock: FakeClock, app_key: str) -> None:
    a = NodeIdentity(wallet=Account.create(), node=Account.create(), name="a")
    b = NodeIdentity(wallet=Account.create(), node=Account.create(), name="b")
    register(client, a, clock, model_id="org/model", start_block=0, end_block=2, total_blocks=4)
    partial = client.get("/models/org/model/nodes", headers=auth(app_key)).json()
    assert partial["covered"] is False and partial["missing_blocks"] == [2, 3] and partial["total_blocks"] == 4
    register(client, b, clock, model_id="org/model", start_block=2, end_block=4, total_blocks=4)
    full = client.get("/models/org/model/nodes", headers=auth(app_key)).json()
    assert full["covered"] is True and full["missing_blocks"] == []
    assert sorted((n["start_block"], n["end_block"]) for n in full["nodes"]) == [(0, 2), (2, 4)]
    assert_error(client.get("/models/nobody/serves-this/nodes", headers=auth(app_key)), 404, "not_found_error",
                 "model_not_found")


def test_node_key_may_be_the_wallet_itself(client: TestClient, clock: FakeClock) -> None:
    wallet = Account.create()
    ident = NodeIdentity(wallet=wallet, node=wallet)
    body = ident.registration(clock)
    body.pop("authorization")
    assert client.post("/nodes/register", json=body).status_code == 201


# ---------------------------------------------------------------- refused registrations


def test_stale_and_future_timestamps_are_refused(client: TestClient, identity: NodeIdentity, clock: FakeClock) -> None:
    now = int(clock().timestamp())
    for ts in (now - 301, now + 301):
        assert_error(client.post("/nodes/register", json=identity.registration(clock, timestamp=ts)),
                     401, "authentication_error", "stale_signature")


def test_replayed_signature_is_refused(client: TestClient, identity: NodeIdentity, clock: FakeClock) -> None:
    body = identity.registration(clock)
    assert client.post("/nodes/register", json=body).status_code == 201
    assert_error(client.post("/nodes/register", json=body), 401, "authentication_error", "replayed_signature")


def test_forged_signature_is_refused(client: TestClient, identity: NodeIdentity, clock: FakeClock) -> None:
    body = identity.registration(clock)
    body["node_name"] = "renamed-after-signing"
    assert_error(client.post("/nodes/register", json=body), 401, "authentication_error", "invalid_signature")
    other = NodeIdentity(wallet=identity.wallet, node=Account.create())
    body = identity.registration(clock)
    body["signature"] = other.registration(clock)["signature"]
    assert_error(client.post("/nodes/register", json=body), 401, "authentication_error", "invalid_signature")


@pytest.mark.parametrize("change", [
    {"gateway_url": "http://203.0.113.7:8300"},  # requests (and the gateway token) would go to someone else
    {"start_block": 1}, {"end_block": 3}, {"total_blocks": 8},
    {"model_id": "test/other-model"}, {"mode": "local"}, {"region": "us-east"}, {"peer_id": "12D3KooWAnother"},
])
def test_a_body_changed_after_signing_is_refused_and_writes_nothing(
        client: TestClient, identity: NodeIdentity, clock: FakeClock, app_key: str, change: dict[str, object]) -> None:
    body = identity.registration(clock)
    body.update(change)
    assert_error(client.post("/nodes/register", json=body), 401, "authentication_error", "invalid_signature")
    assert client.get("/nodes/active", headers=auth(app_key)).json()["nodes"] == []
    register(client, identity, clock)  # the node's own, unchanged body still registers
    assert len(client.get("/nodes/active", headers=auth(app_key)).json()["nodes"]) == 1


def test_authorization_from_another_wallet_is_refused(client: TestClient, identity: NodeIdentity,
                                                      clock: FakeClock) -> None:
    impostor = NodeIdentity(wallet=Account.create(), node=identity.node)
    body = identity.registration(clock)
    body["authorization"] = impostor.registration(clock)["authorization"]
    assert_error(client.post("/nodes/register", json=body), 401, "authentication_error", "invalid_authorization")
    body = identity.registration(clock)
    body.pop("authorization")
    assert_error(client.post("/nodes/register", json=body), 401, "authentication_error", "missing_authorization")


@pytest.mark.parametrize(
    ("change", "param"),
    [
        ({"wallet_address": "0x1234"}, "wallet_address"),
        ({"start_block": "zero"}, "start_block"),
        ({"timestamp": -5}, "timestamp"),
        ({"mode": "hybrid"}, "mode"),
        ({"node_name": ""}, "node_name"),
        ({"gateway_url": "ftp://x"}, "gateway_url"),
        ({"model_id": "org/model\ngateway: http://x"}, "model_id"),  # fields are signed one per line
        ({"region": "eu\rwest"}, "region"),
        ({"hardware": {"vram_total_gb": -1}}, "hardware.vram_total_gb"),
        ({"unexpected": 1}, "unexpected"),
    ],
)
def test_register_validation_names_the_field(client: TestClient, identity: NodeIdentity, clock: FakeClock,
                                             change: dict[str, object], param: str) -> None:
    body = identity.registration(clock)
    body.update(change)
    error = assert_error(client.post("/nodes/register", json=body), 422, "invalid_request_error", "validation_error")
    assert error["param"] == param


def test_blocks_outside_the_model_are_refused(client: TestClient, identity: NodeIdentity, clock: FakeClock) -> None:
    assert_error(client.post("/nodes/register", json=identity.registration(clock, start_block=3, end_block=9)),
                 422, "invalid_request_error", "validation_error")


def test_missing_fields_and_malformed_json(client: TestClient) -> None:
    error = assert_error(client.post("/nodes/register", json={}), 422, "invalid_request_error", "validation_error")
    assert error["param"] in {"wallet_address", "start_block"}
    assert_error(client.post("/nodes/register", content=b'{"wallet_address": ',
                             headers={"content-type": "application/json"}), 400, "invalid_request_error", "invalid_json")
    assert_error(client.post("/nodes/register", content=b"[1, 2]", headers={"content-type": "application/json"}),
                 400, "invalid_request_error", "invalid_json")
    assert_error(client.post("/nodes/register", content=b"a=b",
                             headers={"content-type": "application/x-www-form-urlencoded"}),
                 415, "invalid_request_error", "unsupported_media_type")


def test_heartbeat_needs_a_node_token(client: TestClient, identity: NodeIdentity, clock: FakeClock,
                                      app_key: str) -> None:
    assert_error(client.post("/nodes/heartbeat", json={}), 401, "authentication_error", "missing_credentials")
    assert_error(client.post("/nodes/heartbeat", headers=auth("fn_not-a-real-token"), json={}),
                 401, "authentication_error", "unknown_node_token")
    assert_error(client.post("/nodes/heartbeat", headers=auth(app_key), json={}),
                 401, "authentication_error", "wrong_credential_kind")
    reg = register(client, identity, clock)
    error = assert_error(client.post("/nodes/heartbeat", headers=auth(str(reg["node_token"])),
                                     json={"tokens_served": -1}), 422, "invalid_request_error")
    assert error["param"] == "tokens_served"


def test_a_heartbeat_moving_blocks_off_the_model_is_refused_and_writes_nothing(
        client: TestClient, identity: NodeIdentity, clock: FakeClock, app_key: str) -> None:
    reg = register(client, identity, clock, start_block=0, end_block=2, total_blocks=4)
    token = str(reg["node_token"])
    [before] = client.get("/nodes/active", headers=auth(app_key)).json()["nodes"]
    clock.advance(10)
    error = assert_error(client.post("/nodes/heartbeat", headers=auth(token), json={"end_block": 9, "in_flight": 3}),
                         422, "invalid_request_error", "validation_error")
    assert error["param"] == "end_block"
    error = assert_error(client.post("/nodes/heartbeat", headers=auth(token), json={"start_block": 2}),
                         422, "invalid_request_error", "validation_error")  # not below its own end_block 2
    assert error["param"] == "start_block"
    [after] = client.get("/nodes/active", headers=auth(app_key)).json()["nodes"]
    assert after == before  # blocks, load and last_seen: the refused beats wrote nothing
    ok = client.post("/nodes/heartbeat", headers=auth(token), json={"start_block": 1, "end_block": 4})
    assert ok.status_code == 200, ok.text


def test_node_token_cannot_read_app_endpoints(client: TestClient, identity: NodeIdentity, clock: FakeClock) -> None:
    reg = register(client, identity, clock)
    assert_error(client.get("/nodes/active", headers=auth(str(reg["node_token"]))),
                 401, "authentication_error", "wrong_credential_kind")


def test_heartbeat_reports_the_servers_books(client: TestClient, identity: NodeIdentity, clock: FakeClock) -> None:
    """What the coordinator credited shows in the node's next heartbeat (plan 2.3)."""
    reg = register(client, identity, clock)
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    async def credit() -> None:
        async with ctx.db.pool.acquire() as conn:
            session_id = await conn.fetchval(
                """INSERT INTO far_mesh_sessions (request_id, model_id, price_per_token_far, tokens_generated,
                       cost_far, status) VALUES ('r1', 'test/tiny-llama', 0.0001, 25, 0.0025, 'streaming')
                   RETURNING id""")
            await conn.execute(
                """INSERT INTO far_session_contributions (session_id, node_id, start_block, end_block,
                       tokens_contributed, block_tokens, payment_far) VALUES ($1, $2, 0, 2, 25, 50, 0.0025)""",
                session_id, reg["node_id"])

    client.portal.call(credit)  # type: ignore[union-attr]
    beat = client.post("/nodes/heartbeat", headers=auth(str(reg["node_token"])), json={"tokens_served": 25}).json()
    assert beat["tokens_credited"] == 25
    assert Decimal(beat["earned_far"]) == Decimal("0.0025") == Decimal(beat["unpaid_far"])


def test_nodes_learn_the_swarms_bootstrap_peers(settings: Settings, identity: NodeIdentity, clock: FakeClock) -> None:
    """FAR_MESH_DHT_BOOTSTRAP reaches nodes: in every registration answer and, before a node has any credential,
    from the public GET /nodes/bootstrap (far-node setup uses it when the provider names no peers)."""
    peers = ["/ip4/203.0.113.10/tcp/31337/p2p/12D3KooWBootstrapPeer", "/ip4/203.0.113.11/tcp/31337/p2p/12D3KooWOther"]
    app = create_app(settings.model_copy(update={"dht_bootstrap": peers}), clock=clock)
    with TestClient(app, raise_server_exceptions=False) as client:
        assert client.get("/nodes/bootstrap").json() == {"dht_bootstrap": peers}  # no credential needed
        assert register(client, identity, clock)["dht_bootstrap"] == peers


def test_bootstrap_peers_are_an_empty_list_when_none_is_set(client: TestClient) -> None:
    assert client.get("/nodes/bootstrap").json() == {"dht_bootstrap": []}


def test_online_is_three_heartbeat_intervals_in_the_api_and_in_the_view(settings: Settings,
                                                                       identity: NodeIdentity) -> None:
    """The app and the plan's `active_far_nodes` view share one rule, with the configured window (here 15 s)."""
    with TestClient(create_app(settings.model_copy(update={"heartbeat_interval_s": 5}))) as client:
        key = make_key(client)
        node_id = register(client, identity, FakeClock())["node_id"]
        pool = client.app.state.ctx.db.pool  # type: ignore[attr-defined]

        def seen_ago(seconds: int) -> tuple[list[str], list[str]]:
            async def move() -> list[str]:
                async with pool.acquire() as conn:
                    await conn.execute("UPDATE far_nodes SET last_seen = now() - make_interval(secs => $1)", seconds)
                    return [str(r["id"]) for r in await conn.fetch("SELECT id FROM active_far_nodes")]

            in_view = client.portal.call(move)  # type: ignore[union-attr]
            in_api = [n["node_id"] for n in client.get("/nodes/active", headers=auth(key)).json()["nodes"]]
            return in_view, in_api

        assert seen_ago(10) == ([node_id], [node_id])
        assert seen_ago(20) == ([], [])  # 90 s at the default interval; 15 s here
