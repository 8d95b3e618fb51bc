"""The provider API and provider sign-in: only the wallet's owner (or an admin) reads its data."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from eth_account import Account
from starlette.testclient import TestClient

from farlabs_devtools.testing import FakeClock, NodeIdentity, assert_error, auth, register
from farlabs_protocol import sign_text
from farlabs_server.db import payouts as db_payouts


def sign_in(client: TestClient, wallet: Any) -> str:
    challenge = client.post("/auth/wallet/challenge", json={"wallet_address": wallet.address}).json()
    response = client.post("/auth/wallet/verify", json={
        "wallet_address": wallet.address, "nonce": challenge["nonce"], "issued_at": challenge["issued_at"],
        "signature": sign_text(wallet.key, challenge["message"])})
    assert response.status_code == 200, response.text
    token: str = response.json()["access_token"]
    return token


@pytest.fixture
def provider(client: TestClient, identity: NodeIdentity, clock: FakeClock) -> dict[str, Any]:
    """A registered node with one paid and one unpaid session."""
    reg = register(client, identity, clock)
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    async def seed() -> None:
        async with ctx.db.pool.acquire() as conn:
            for request_id, tokens, pay in (("r1", 100, "0.01"), ("r2", 50, "0.005")):
                session = await conn.fetchval(
                    """INSERT INTO far_mesh_sessions (request_id, model_id, price_per_token_far, tokens_generated,
                           cost_far, status) VALUES ($1, 'test/tiny-llama', 0.0001, $2, $3, 'streaming') RETURNING id""",
                    request_id, tokens, Decimal(pay))
                await conn.execute(
                    """INSERT INTO far_session_contributions (session_id, node_id, start_block, end_block,
                           tokens_contributed, block_tokens, payment_far, created_at) VALUES ($1, $2, 0, 2, $3, $4, $5, $6)""",
                    session, reg["node_id"], tokens, 2 * tokens, Decimal(pay), clock())
                await conn.execute("SELECT (finalize_session($1, 'completed')).id", session)
            batch = await conn.fetchval(
                """INSERT INTO far_payment_batches (batch_key, period_start, network, chain_id, status, total_far,
                       total_wei, recipient_count, tx_hash, confirmed_at, block_number)
                   VALUES ('0x' || repeat('b', 64), '2026-11-23', 'testnet', 97, 'confirmed', 0.01, 10000000000000000, 1,
                           '0x' || repeat('c', 64), now(), 7) RETURNING id""")
            await conn.execute(
                "INSERT INTO far_payment_recipients (batch_id, wallet_address, amount_far, amount_wei) "
                "VALUES ($1, $2, 0.01, 10000000000000000)", batch, identity.wallet.address.lower())
            await conn.execute(
                """UPDATE far_session_contributions SET paid_at = now(), payment_batch_id = $1, tx_hash = '0x' || repeat('c', 64)
                   WHERE tokens_contributed = 100""", batch)

    client.portal.call(seed)  # type: ignore[union-attr]
    return reg


def test_a_contribution_in_an_unsent_batch_is_unpaid_once_and_never_planned_again(
        client: TestClient, identity: NodeIdentity, provider: dict[str, Any]) -> None:
    """Unpaid is what no confirmed payout has paid (far_contribution_unpaid): reserved by a planned batch, the
    0.005 FAR stays unpaid, once (earned = paid + unpaid), and the planner does not take it a second time."""
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    async def reserve_and_plan_again() -> int:
        async with ctx.db.pool.acquire() as conn:
            batch = await conn.fetchval(
                """INSERT INTO far_payment_batches (batch_key, period_start, network, status, total_far, total_wei,
                       recipient_count) VALUES ('0x' || repeat('d', 64), '2026-11-30', 'testnet', 'planned', 0.005,
                       5000000000000000, 1) RETURNING id""")
            await conn.execute("UPDATE far_session_contributions SET payment_batch_id = $1 WHERE paid_at IS NULL",
                               batch)
            return len(await db_payouts.unpaid_contributions(conn, ctx.clock()))

    assert client.portal.call(reserve_and_plan_again) == 0  # type: ignore[union-attr]
    token = sign_in(client, identity.wallet)
    base = f"/provider/{identity.wallet.address}"
    stats = client.get(base + "/stats", headers=auth(token)).json()
    assert (Decimal(stats["paid_far"]), Decimal(stats["unpaid_far"])) == (Decimal("0.01"), Decimal("0.005"))
    assert Decimal(stats["total_earned_far"]) == Decimal(stats["paid_far"]) + Decimal(stats["unpaid_far"])
    earnings = client.get(base + "/earnings", headers=auth(token)).json()
    assert (Decimal(earnings["paid_far"]), Decimal(earnings["unpaid_far"])) == (Decimal("0.01"), Decimal("0.005"))


def test_owner_reads_stats_earnings_payments_and_nodes(client: TestClient, identity: NodeIdentity,
                                                        provider: dict[str, Any]) -> None:
    token = sign_in(client, identity.wallet)
    base = f"/provider/{identity.wallet.address}"
    stats = client.get(base + "/stats", headers=auth(token)).json()
    assert stats["nodes_total"] == 1 and stats["nodes_online"] == 1 and stats["sessions"] == 2
    assert stats["tokens_contributed"] == 150 and stats["block_tokens"] == 300
    assert Decimal(stats["total_earned_far"]) == Decimal("0.015")
    assert Decimal(stats["paid_far"]) == Decimal("0.01") and Decimal(stats["unpaid_far"]) == Decimal("0.005")

    earnings = client.get(base + "/earnings?days=7", headers=auth(token)).json()
    assert len(earnings["daily"]) == 7 and Decimal(earnings["daily"][-1]["far"]) == Decimal("0.015")
    assert all(Decimal(d["far"]) == 0 for d in earnings["daily"][:-1])
    assert earnings["by_node"][0]["node_id"] == provider["node_id"]

    payments = client.get(base + "/payments", headers=auth(token)).json()["payments"]
    assert len(payments) == 1 and payments[0]["tx_hash"] == "0x" + "c" * 64 and payments[0]["status"] == "confirmed"
    assert payments[0]["tx_url"] == "https://testnet.bscscan.com/tx/0x" + "c" * 64  # BSC testnet's explorer
    assert Decimal(payments[0]["amount_far"]) == Decimal("0.01")

    [node] = client.get(base + "/nodes", headers=auth(token)).json()["nodes"]
    assert node["status"] == "online" and node["uptime_s"] >= 0 and node["hardware"]["gpu_name"] == "CPU"
    assert (node["start_block"], node["end_block"]) == (0, 2)


def test_another_wallet_gets_403(client: TestClient, identity: NodeIdentity, provider: dict[str, Any]) -> None:
    stranger = sign_in(client, Account.create())
    for part in ("stats", "earnings", "payments", "nodes"):
        assert_error(client.get(f"/provider/{identity.wallet.address}/{part}", headers=auth(stranger)),
                     403, "permission_error", "not_your_wallet")


def test_app_keys_get_403_and_admins_read_everything(client: TestClient, identity: NodeIdentity,
                                                      provider: dict[str, Any], app_key: str, admin_key: str) -> None:
    path = f"/provider/{identity.wallet.address}/stats"
    assert_error(client.get(path, headers=auth(app_key)), 403, "permission_error")
    assert_error(client.get(path), 401, "authentication_error")
    assert client.get(path, headers=auth(admin_key)).json()["sessions"] == 2


def test_bad_wallet_and_window(client: TestClient, admin_key: str) -> None:
    assert_error(client.get("/provider/0x123/stats", headers=auth(admin_key)), 422, "invalid_request_error")
    wallet = Account.create().address
    assert_error(client.get(f"/provider/{wallet}/earnings?days=0", headers=auth(admin_key)), 422,
                 "invalid_request_error")
    empty = client.get(f"/provider/{wallet}/stats", headers=auth(admin_key)).json()
    assert empty["nodes_total"] == 0 and Decimal(empty["total_earned_far"]) == 0


def test_sign_in_refuses_forged_replayed_and_expired(client: TestClient, clock: FakeClock) -> None:
    wallet, other = Account.create(), Account.create()
    challenge = client.post("/auth/wallet/challenge", json={"wallet_address": wallet.address}).json()
    body = {"wallet_address": wallet.address, "nonce": challenge["nonce"], "issued_at": challenge["issued_at"]}
    assert_error(client.post("/auth/wallet/verify", json={**body, "signature": sign_text(other.key, challenge["message"])}),
                 401, "authentication_error", "invalid_signature")
    assert_error(client.post("/auth/wallet/verify", json={**body, "nonce": "0" * 32,
                                                          "signature": sign_text(wallet.key, challenge["message"])}),
                 401, "authentication_error", "invalid_challenge")
    good = {**body, "signature": sign_text(wallet.key, challenge["message"])}
    assert client.post("/auth/wallet/verify", json=good).status_code == 200
    assert_error(client.post("/auth/wallet/verify", json=good), 401, "authentication_error", "replayed_signature")
    late = client.post("/auth/wallet/challenge", json={"wallet_address": wallet.address}).json()
    clock.advance(301)
    assert_error(client.post("/auth/wallet/verify", json={
        "wallet_address": wallet.address, "nonce": late["nonce"], "issued_at": late["issued_at"],
        "signature": sign_text(wallet.key, late["message"])}), 401, "authentication_error", "challenge_expired")


def test_provider_token_expires_and_cannot_administer(client: TestClient, clock: FakeClock) -> None:
    wallet = Account.create()
    token = sign_in(client, wallet)
    assert_error(client.get("/admin/keys", headers=auth(token)), 403, "permission_error")
    assert_error(client.post("/auth/token", headers=auth(token)), 403, "permission_error")
    clock.advance(3601)
    assert_error(client.get(f"/provider/{wallet.address}/stats", headers=auth(token)), 401, "authentication_error",
                 "token_expired")


def test_a_node_mints_its_owners_dashboard_link(client: TestClient, identity: NodeIdentity, clock: FakeClock) -> None:
    reg = register(client, identity, clock)
    minted = client.post("/nodes/dashboard-token", headers=auth(str(reg["node_token"]))).json()
    assert minted["dashboard_url"].endswith("/dashboard#token=" + minted["access_token"])
    assert client.get(f"/provider/{identity.wallet.address}/nodes",
                      headers=auth(minted["access_token"])).status_code == 200


def test_amounts_are_sent_in_plain_notation() -> None:
    """PostgreSQL's NUMERIC zero is Decimal('0E-18'); a provider must never read "0E-18 FAR"."""
    from farlabs_server.api.endpoints import jsonable
    from farlabs_server.provider.models import ProviderPayments

    zero = ProviderPayments(wallet_address="0x" + "a" * 40, payments=[{
        "batch_id": "00000000-0000-0000-0000-000000000001", "date": "2026-11-23T00:00:00Z", "amount_far": Decimal("0E-18"),
        "status": "confirmed", "network": "local", "chain_id": 31337, "tx_hash": None, "block_number": None}])
    assert jsonable(zero)["payments"][0] == {
        "batch_id": "00000000-0000-0000-0000-000000000001", "date": "2026-11-23T00:00:00Z",
        "amount_far": "0.000000000000000000", "status": "confirmed", "network": "local", "chain_id": 31337,
        "tx_hash": None, "tx_url": None, "block_number": None}
