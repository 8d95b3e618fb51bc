"""`mesh.models` and `mesh.provider(wallet)`, sync and async."""

from __future__ import annotations

from decimal import Decimal

import httpx
import pytest
import respx

import farlabs
from farlabs import AsyncFarMesh, FarMesh

from .helpers import envelope

WALLET = "0x" + "ab" * 20
MODELS = {
    "object": "list",
    "data": [
        {
            "id": "HuggingFaceTB/SmolLM2-135M-Instruct",
            "object": "model",
            "created": 1764331200,
            "owned_by": "farlabs",
        }
    ],
}
STATS = {
    "wallet_address": WALLET,
    "nodes_total": 2,
    "nodes_online": 1,
    "sessions": 7,
    "tokens_contributed": 1234,
    "block_tokens": 4936,
    "total_earned_far": "0.1234",
    "paid_far": "0.1",
    "unpaid_far": "0.0234",
    "last_payment_at": "2026-11-27T10:00:00Z",
    "uptime_pct": 99.5,
}
EARNINGS = {
    "wallet_address": WALLET,
    "days": 2,
    "paid_far": "0.1",
    "unpaid_far": "0.0234",
    "daily": [
        {"date": "2026-11-27", "far": "0.1", "tokens": 1000},
        {"date": "2026-11-28", "far": "0.0234", "tokens": 234},
    ],
    "by_node": [
        {
            "node_id": "n1",
            "node_name": "my-node",
            "tokens": 1234,
            "earned_far": "0.1234",
            "paid_far": "0.1",
            "unpaid_far": "0.0234",
        }
    ],
}
PAYMENTS = {
    "wallet_address": WALLET,
    "payments": [
        {
            "batch_id": "b1",
            "date": "2026-11-27T10:00:00Z",
            "amount_far": "0.1",
            "status": "confirmed",
            "network": "bsc-testnet",
            "tx_hash": "0xdead",
            "block_number": 42,
        }
    ],
}
NODES = {
    "wallet_address": WALLET,
    "nodes": [
        {
            "node_id": "n1",
            "node_name": "my-node",
            "status": "online",
            "start_block": 0,
            "end_block": 15,
            "uptime_s": 3600,
            "tokens_served": 1234,
            "hardware": {"gpu_name": "RTX 4090"},
        }
    ],
}


def _mock_provider(mock: respx.MockRouter) -> None:
    mock.get("/v1/models").mock(return_value=httpx.Response(200, json=MODELS))
    mock.get(f"/provider/{WALLET}/stats").mock(return_value=httpx.Response(200, json=STATS))
    mock.get(f"/provider/{WALLET}/earnings").mock(return_value=httpx.Response(200, json=EARNINGS))
    mock.get(f"/provider/{WALLET}/payments").mock(return_value=httpx.Response(200, json=PAYMENTS))
    mock.get(f"/provider/{WALLET}/nodes").mock(return_value=httpx.Response(200, json=NODES))


def _check(
    models: list[farlabs.Model],
    stats: farlabs.ProviderStats,
    earnings: farlabs.ProviderEarnings,
    payments: farlabs.ProviderPayments,
    nodes: farlabs.ProviderNodes,
) -> None:
    assert [m.id for m in models] == ["HuggingFaceTB/SmolLM2-135M-Instruct"]
    assert stats.total_earned_far == Decimal("0.1234") and stats.nodes_online == 1
    assert stats.last_payment_at is not None and stats.last_payment_at.year == 2026
    assert stats.model_extra == {"uptime_pct": 99.5}  # unknown fields are kept
    assert [d.far for d in earnings.daily] == [Decimal("0.1"), Decimal("0.0234")]
    assert earnings.daily[0].date.isoformat() == "2026-11-27"  # type: ignore[union-attr]
    assert earnings.by_node[0].unpaid_far == Decimal("0.0234")
    assert payments.payments[0].amount_far == Decimal("0.1")
    assert payments.payments[0].block_number == 42
    assert nodes.nodes[0].node_name == "my-node" and nodes.nodes[0].uptime_s == 3600
    assert nodes.nodes[0].hardware == {"gpu_name": "RTX 4090"}


def test_sync(mock: respx.MockRouter) -> None:
    _mock_provider(mock)
    with FarMesh(api_key="fl_x") as mesh:
        provider = mesh.provider(WALLET)
        _check(
            mesh.models.list(),
            provider.stats(),
            provider.earnings(),
            provider.payments(),
            provider.nodes(),
        )


@pytest.mark.anyio
async def test_async(mock: respx.MockRouter) -> None:
    _mock_provider(mock)
    async with AsyncFarMesh(api_key="fl_x") as mesh:
        provider = mesh.provider(WALLET)
        _check(
            await mesh.models.list(),
            await provider.stats(),
            await provider.earnings(),
            await provider.payments(),
            await provider.nodes(),
        )


@pytest.mark.parametrize(
    "wallet", ["", "0x123", "ab" * 20, "0x" + "zz" * 20, "0x" + "ab" * 20 + "/x"]
)
def test_bad_wallet(wallet: str) -> None:
    with FarMesh() as mesh, pytest.raises(ValueError, match="wallet"):
        mesh.provider(wallet)


def test_other_wallet_is_forbidden(mock: respx.MockRouter) -> None:
    mock.get(f"/provider/{WALLET}/stats").mock(
        return_value=envelope(403, "permission_error", "not_your_wallet")
    )
    with FarMesh(api_key="fl_x") as mesh, pytest.raises(farlabs.PermissionDeniedError) as info:
        mesh.provider(WALLET).stats()
    assert info.value.code == "not_your_wallet"


def test_get_is_retried(mock: respx.MockRouter, sleeps: list[float]) -> None:
    route = mock.get("/v1/models").mock(
        side_effect=[httpx.Response(502, text="bad gateway"), httpx.Response(200, json=MODELS)]
    )
    with FarMesh() as mesh:
        assert len(mesh.models.list()) == 1
    assert route.call_count == 2 and "idempotency-key" not in route.calls.last.request.headers


def test_earnings_window(mock: respx.MockRouter) -> None:
    route = mock.get(f"/provider/{WALLET}/earnings", params={"days": "7"}).mock(
        return_value=httpx.Response(200, json={**EARNINGS, "days": 7}))
    with FarMesh(api_key="fl_x") as mesh:
        assert mesh.provider(WALLET).earnings(days=7).days == 7
        for bad in (0, 367, True):
            with pytest.raises(ValueError, match="days must be an integer"):
                mesh.provider(WALLET).earnings(days=bad)
    assert route.call_count == 1  # a bad window never reaches the server
