"""The payouts admin API (admins only) and the payout metrics, over the real app, database and local EVM."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from prometheus_client import CollectorRegistry
from starlette.testclient import TestClient

from farlabs_server.app import create_app
from farlabs_server.auth import keys
from farlabs_server.db.payouts import PAYOUT_LOCK_ID
from farlabs_server.settings import Settings

from .payout_seed import provider

ADMIN_PATHS = [("GET", "/admin/payouts/batches"), ("GET", "/admin/payouts/runs"), ("POST", "/admin/payouts/run?dry_run=true"),
               ("POST", "/admin/payouts/run"), ("GET", "/admin/payouts/batches/00000000-0000-0000-0000-000000000000")]


@pytest.fixture
def client(database_url: str, tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings(postgres_url=database_url, data_dir=tmp_path / "data", secret_key="test-secret-" + "x" * 32,
                        rate_limit_rpm=10_000, payout_schedule_enabled=False)
    with TestClient(create_app(settings), raise_server_exceptions=False) as test_client:
        yield test_client


def key(client: TestClient, role: keys.Role) -> dict[str, str]:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    async def create() -> str:
        async with ctx.db.pool.acquire() as conn:
            secret, _ = await keys.create_key(conn, f"test-{role}", role=role)
        return secret

    return {"Authorization": "Bearer " + client.portal.call(create)}  # type: ignore[union-attr]


def seed(client: TestClient, amounts: list[str]) -> str:
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    async def run() -> str:
        async with ctx.db.pool.acquire() as conn:
            return await provider(conn, amounts, ctx.clock() - timedelta(minutes=1))

    return client.portal.call(run)  # type: ignore[union-attr]


@pytest.mark.parametrize(("method", "path"), ADMIN_PATHS)
def test_payouts_api_is_for_admins_only(client: TestClient, method: str, path: str) -> None:
    assert client.request(method, path).status_code == 401
    response = client.request(method, path, headers=key(client, "app"))
    assert response.status_code == 403 and response.json()["error"]["code"] == "admin_only"


def test_run_list_detail_and_metrics(client: TestClient) -> None:
    admin = key(client, "admin")
    wallet = seed(client, ["7", "5.5"])
    seed(client, ["3"])  # below the minimum: carried over

    dry = client.post("/admin/payouts/run?dry_run=true", headers=admin)
    assert dry.status_code == 200, dry.text
    body = dry.json()
    assert body["dry_run"] and body["providers"] == 1 and Decimal(body["total_to_pay_far"]) == Decimal("12.5")
    assert body["lines"][-1] == "[DRY RUN - no actual payment]" and body["batches"] == []

    paid = client.post("/admin/payouts/run", headers=admin)
    assert paid.status_code == 200, paid.text
    [batch] = paid.json()["batches"]
    assert batch["status"] == "confirmed" and batch["total_wei"] == str(125 * 10**17) and batch["recipient_count"] == 1
    assert Decimal(paid.json()["carried_over_far"]) == Decimal(3)

    listed = client.get("/admin/payouts/batches?status=confirmed", headers=admin).json()["batches"]
    assert [b["id"] for b in listed] == [batch["id"]]
    assert client.get("/admin/payouts/batches?status=failed", headers=admin).json()["batches"] == []
    detail = client.get(f"/admin/payouts/batches/{batch['id']}", headers=admin).json()
    assert detail["recipients"] == [{"wallet_address": wallet.lower(), "amount_far": "12.500000000000000000",
                                     "amount_wei": str(125 * 10**17)}]
    assert [t["status"] for t in detail["transactions"]] == ["mined"] and detail["contributions"] == 2
    assert detail["transactions"][0]["tx_hash"] == batch["tx_hash"]
    [run] = client.get("/admin/payouts/runs", headers=admin).json()["runs"]
    assert run["status"] == "completed" and run["trigger"] == "api" and Decimal(run["paid_far"]) == Decimal("12.5")

    metrics = client.get("/metrics").text
    assert "farlabs:payouts_far_paid_total 12.5" in metrics
    assert 'farlabs:payouts_batches{status="confirmed"} 1.0' in metrics
    assert 'farlabs:payouts_runs_total{result="completed"} 1.0' in metrics
    assert 'farlabs:payouts_failures_total{reason="reverted"} 0.0' in metrics


def test_bad_queries_and_a_busy_lock(client: TestClient) -> None:
    admin = key(client, "admin")
    assert client.get("/admin/payouts/batches?status=lost", headers=admin).status_code == 422
    assert client.get("/admin/payouts/batches?limit=0", headers=admin).status_code == 422
    assert client.post("/admin/payouts/run?dry_run=maybe", headers=admin).status_code == 422
    assert client.get("/admin/payouts/batches/not-a-uuid", headers=admin).status_code == 404
    missing = client.get("/admin/payouts/batches/00000000-0000-0000-0000-000000000000", headers=admin)
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "batch_not_found"

    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    seed(client, ["20"])

    async def hold_lock_and_run() -> int:
        async with ctx.db.pool.acquire() as conn:  # another replica is paying
            await conn.execute("SELECT pg_advisory_lock($1)", PAYOUT_LOCK_ID)
            try:
                import httpx

                transport = httpx.ASGITransport(app=client.app)  # type: ignore[arg-type]
                async with httpx.AsyncClient(transport=transport, base_url="http://test") as http:
                    response = await http.post("/admin/payouts/run", headers=admin)
                assert response.json()["error"]["code"] == "payout_run_in_progress"
                return response.status_code
            finally:
                await conn.execute("SELECT pg_advisory_unlock($1)", PAYOUT_LOCK_ID)

    assert client.portal.call(hold_lock_and_run) == 409  # type: ignore[union-attr]


def test_a_new_process_reports_the_batches_already_in_the_database(client: TestClient) -> None:
    """Batch gauges come from the database, not from what this process happened to run."""
    from farlabs_server.payouts.service import PayoutService

    admin = key(client, "admin")
    seed(client, ["15"])
    assert client.post("/admin/payouts/run", headers=admin).status_code == 200
    ctx = client.app.state.ctx  # type: ignore[attr-defined]
    registry = CollectorRegistry()
    fresh = PayoutService(ctx.settings, ctx.db.pool, registry=registry)  # another replica, its own registry
    assert registry.get_sample_value("farlabs:payouts_batches", {"status": "confirmed"}) == 0
    client.portal.call(fresh.refresh_metrics)  # type: ignore[union-attr]
    assert registry.get_sample_value("farlabs:payouts_batches", {"status": "confirmed"}) == 1
