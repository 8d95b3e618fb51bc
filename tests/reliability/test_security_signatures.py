"""Signatures used where they were not meant to be (reference-server/tests/test_discovery.py covers the single
endpoint cases: stale, replayed, forged, foreign authorization). Here: one signature carried to another
endpoint, another node or a later time; node tokens after they are retired. Every refusal writes nothing and
leaves the real node working."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor

import httpx
import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount

from farlabs_protocol import authorization_message, sign_text

from .conftest import RunningServer, assert_envelope, registration_body

Snapshot = Callable[[], dict[str, tuple[int, str]]]


@pytest.fixture
def client(server: RunningServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as c:
        yield c


def sign_in_signature(client: httpx.Client, wallet: LocalAccount) -> dict[str, object]:
    challenge = client.post("/auth/wallet/challenge", json={"wallet_address": wallet.address}).json()
    return {"wallet_address": wallet.address, "nonce": challenge["nonce"], "issued_at": challenge["issued_at"],
            "signature": sign_text(wallet.key, challenge["message"])}


_SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def malleated(signature: str) -> str:
    raw = bytes.fromhex(signature[2:])
    s = int.from_bytes(raw[32:64], "big")
    return "0x" + (raw[:32] + (_SECP256K1_N - s).to_bytes(32, "big") + bytes([raw[64] ^ 1])).hex()


def heartbeat(client: httpx.Client, token: str) -> httpx.Response:
    return client.post("/nodes/heartbeat", headers={"Authorization": f"Bearer {token}"}, json={"tokens_served": 1})


def test_a_registration_signature_is_no_dashboard_sign_in(client: httpx.Client, db_snapshot: Snapshot) -> None:
    """A node whose key is the wallet signs registrations with the wallet key: those signatures must not open
    the wallet's dashboard, nor the wallet's node authorization."""
    wallet = Account.create()
    registration = registration_body(wallet, wallet)
    authorization = sign_text(wallet.key, authorization_message(wallet.address, Account.create().address))
    signed_in = sign_in_signature(client, wallet)
    before = db_snapshot()
    for foreign in (registration["signature"], authorization):
        response = client.post("/auth/wallet/verify", json=signed_in | {"signature": foreign})
        assert_envelope(response, 401, "authentication_error", "invalid_signature")
    assert db_snapshot() == before


def test_a_registration_redirected_in_transit_is_refused(client: httpx.Client, db_snapshot: Snapshot) -> None:
    """Whoever relays a node's registration can't point it at their own gateway (and so receive users' prompts
    and the gateway token), nor change what it serves: the node key signs those fields too."""
    wallet, node = Account.create(), Account.create()
    genuine = registration_body(wallet, node)
    before = db_snapshot()
    for change in ({"gateway_url": "http://198.51.100.9:8300"}, {"model_id": "fuzz/other"}, {"end_block": 1}):
        response = client.post("/nodes/register", json=genuine | change)
        assert_envelope(response, 401, "authentication_error", "invalid_signature")
    assert db_snapshot() == before
    assert client.post("/nodes/register", json=genuine).status_code == 201


def test_a_dashboard_sign_in_is_no_registration(client: httpx.Client, db_snapshot: Snapshot) -> None:
    wallet, node = Account.create(), Account.create()
    signed_in = sign_in_signature(client, wallet)
    assert client.post("/auth/wallet/verify", json=signed_in).status_code == 200
    before = db_snapshot()
    as_signature = registration_body(wallet, wallet) | {"signature": signed_in["signature"]}
    assert_envelope(client.post("/nodes/register", json=as_signature), 401, "authentication_error", "invalid_signature")
    as_authorization = registration_body(wallet, node) | {"authorization": signed_in["signature"]}
    assert_envelope(client.post("/nodes/register", json=as_authorization), 401, "authentication_error",
                    "invalid_authorization")
    # ...and the used sign-in cannot be spent again.
    assert_envelope(client.post("/auth/wallet/verify", json=signed_in), 401, "authentication_error", "replayed_signature")
    assert db_snapshot() == before


def test_a_wallets_authorization_covers_only_the_node_it_names(client: httpx.Client, db_snapshot: Snapshot) -> None:
    """Seeing a victim's registration, an attacker reuses the wallet's authorization for their own node key,
    to have their node earn under (and be trusted as) the victim's wallet."""
    victim_wallet, victim_node, attacker_node = Account.create(), Account.create(), Account.create()
    genuine = registration_body(victim_wallet, victim_node)
    assert client.post("/nodes/register", json=genuine).status_code == 201
    before = db_snapshot()
    stolen = registration_body(victim_wallet, attacker_node) | {"authorization": genuine["authorization"]}
    assert_envelope(client.post("/nodes/register", json=stolen), 401, "authentication_error", "invalid_authorization")
    # Claiming the victim's node address needs the victim's node key.
    claimed = registration_body(victim_wallet, attacker_node) | {"node_address": victim_node.address}
    assert_envelope(client.post("/nodes/register", json=claimed), 401, "authentication_error", "invalid_signature")
    assert db_snapshot() == before


def test_a_used_registration_stays_used_after_the_node_leaves(client: httpx.Client, db_snapshot: Snapshot) -> None:
    wallet, node = Account.create(), Account.create()
    body = registration_body(wallet, node)
    first = client.post("/nodes/register", json=body)
    assert first.status_code == 201
    token = first.json()["node_token"]
    assert client.post("/nodes/unregister", headers={"Authorization": f"Bearer {token}"}).status_code == 200
    before = db_snapshot()
    # Replaying the captured registration must not bring the node back under someone else's control.
    assert_envelope(client.post("/nodes/register", json=body), 401, "authentication_error", "replayed_signature")
    # Nor with another signature encoding of the same bytes (upper-case hex).
    upper = body | {"signature": "0x" + str(body["signature"])[2:].upper()}
    assert_envelope(client.post("/nodes/register", json=upper), 401, "authentication_error", "replayed_signature")
    # Nor with its ECDSA twin (s -> n - s, v flipped): a different byte string that some libraries accept.
    assert_envelope(client.post("/nodes/register", json=body | {"signature": malleated(str(body["signature"]))}), 401,
                    "authentication_error", "invalid_signature")
    # The retired token is dead for every node endpoint.
    assert_envelope(heartbeat(client, token), 401, "authentication_error", "unknown_node_token")
    assert_envelope(client.post("/nodes/dashboard-token", headers={"Authorization": f"Bearer {token}"}), 401,
                    "authentication_error", "unknown_node_token")
    assert db_snapshot() == before


def test_reregistering_retires_the_old_token_everywhere(client: httpx.Client) -> None:
    wallet, node = Account.create(), Account.create()
    now = int(time.time())
    old = client.post("/nodes/register", json=registration_body(wallet, node, timestamp=now)).json()
    new = client.post("/nodes/register", json=registration_body(wallet, node, timestamp=now + 1)).json()
    assert new["node_id"] == old["node_id"] and new["node_token"] != old["node_token"]
    for path in ("/nodes/heartbeat", "/nodes/unregister", "/nodes/dashboard-token"):
        response = client.post(path, headers={"Authorization": f"Bearer {old['node_token']}"}, json={})
        assert_envelope(response, 401, "authentication_error", "unknown_node_token")
    # The gateway token (the coordinator's secret for the node's gateway) is no node credential either.
    assert_envelope(heartbeat(client, new["gateway_token"]), 401, "authentication_error", "wrong_credential_kind")
    assert heartbeat(client, new["node_token"]).status_code == 200


def test_a_signature_raced_from_many_connections_is_spent_once(server: RunningServer, client: httpx.Client,
                                                               sql: Callable[..., list[object]]) -> None:
    """The replay check holds under concurrency: 16 copies of one registration, and of one sign-in, at once."""
    wallet, node = Account.create(), Account.create()
    registration = registration_body(wallet, node)
    signed_in = sign_in_signature(client, Account.create())

    def post(path_and_body: tuple[str, dict[str, object]]) -> int:
        path, body = path_and_body
        with httpx.Client(base_url=server.url, timeout=30) as own:
            return own.post(path, json=body).status_code

    for path, body, ok in (("/nodes/register", registration, 201), ("/auth/wallet/verify", signed_in, 200)):
        with ThreadPoolExecutor(16) as pool:
            statuses = sorted(pool.map(post, [(path, body)] * 16))
        assert statuses == [ok] + [401] * 15, (path, statuses)
    rows = sql("SELECT count(*) AS n FROM far_nodes WHERE node_address = $1", node.address.lower())
    assert rows[0]["n"] == 1  # type: ignore[index]
