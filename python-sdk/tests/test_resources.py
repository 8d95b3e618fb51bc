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
    "tokens_served": 1234,
    "earned_far": "0.1234",
    "paid_far": "0.1",
    "unpaid_far": "0.0234",
    "uptime_pct": 99.5,
}
PAYMENTS = [
    {
        "batch_id": "b1",
        "amount_far": "0.1",
        "amount_wei": 100000000000000000,
        "tx_hash": "0xdead",
        "status": "confirmed",
    }
]
NODES = {
    "nodes": [
        {
            "node_id": "n1",
            "node_name": "my-node",
            "status": "online",
            "start_block": 0,
            "end_block": 15,
            "earned_far": "0.05",
        }
    ]
}


def _mock_provider(mock: respx.MockRouter) -> None:
    mock.get("/v1/models").mock(return_value=httpx.Response(200, json=MODELS))
    mock.get(f"/provider/{WALLET}/stats").mock(return_value=httpx.Response(200, json=STATS))
    mock.get(f"/provider/{WALLET}/earnings").mock(
        return_value=httpx.Response(200, json={"total_far": "0.1234", "by_day": [{"d": 1}]})
    )
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
    assert stats.earned_far == Decimal("0.1234") and stats.nodes_online == 1
    assert stats.model_extra == {"uptime_pct": 99.5}  # unknown fields are kept
    assert earnings.total_far == Decimal("0.1234") and earnings.model_extra == {
        "by_day": [{"d": 1}]
    }
    assert payments.payments[0].amount_wei == 10**17  # wei stays an exact int
    assert payments.payments[0].amount_far == Decimal("0.1")
    assert nodes.nodes[0].node_name == "my-node" and nodes.nodes[0].earned_far == Decimal("0.05")


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
