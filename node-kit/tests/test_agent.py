"""The discovery agent against an in-process stand-in of the reference server's discovery API.

The stand-in checks the wallet proof the way docs/protocol.md describes it; the real server is exercised by the
cross-package tests.
"""

from __future__ import annotations

import asyncio
import secrets
import time
from typing import Any

import httpx
import pytest
from eth_account import Account
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from farlabs_node.agent import DiscoveryAgent, NodeIdentity, ServingInfo
from farlabs_node.agent.client import NodeStats
from farlabs_protocol import authorization_message, recover_signer, registration_message, sign_text


class StandIn:
    """Discovery endpoints with the protocol's checks; `restart()` forgets tokens, `down` refuses connections."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        self.registrations: list[dict[str, Any]] = []
        self.heartbeats: list[dict[str, Any]] = []
        self.unregistered: list[str] = []
        self.down = False
        self.app = Starlette(
            routes=[
                Route("/nodes/register", self.register, methods=["POST"]),
                Route("/nodes/heartbeat", self.heartbeat, methods=["POST"]),
                Route("/nodes/unregister", self.unregister, methods=["POST"]),
            ]
        )

    def restart(self) -> None:
        self.tokens.clear()

    async def register(self, request: Request) -> JSONResponse:
        body = await request.json()
        message = registration_message(body)
        if recover_signer(message, body["signature"]) != body["node_address"]:
            return JSONResponse({"error": {"type": "authentication_error", "message": "bad signature"}}, 401)
        auth = authorization_message(body["wallet_address"], body["node_address"])
        if recover_signer(auth, body["authorization"]) != body["wallet_address"]:
            return JSONResponse({"error": {"type": "authentication_error", "message": "bad authorization"}}, 401)
        if abs(time.time() - body["timestamp"]) > 300:
            return JSONResponse({"error": {"type": "authentication_error", "message": "stale"}}, 401)
        self.registrations.append(body)
        token = "fn_" + secrets.token_hex(8)
        self.tokens[token] = "node-1"
        return JSONResponse(
            {
                "node_id": "node-1",
                "node_token": token,
                "gateway_token": f"gw_{len(self.registrations)}",
                "heartbeat_interval_s": 30,
                "status": "online",
            },
            201,
        )

    def _node(self, request: Request) -> str | None:
        return self.tokens.get(request.headers.get("authorization", "").removeprefix("Bearer "))

    async def heartbeat(self, request: Request) -> JSONResponse:
        if self._node(request) is None:
            return JSONResponse({"error": {"type": "authentication_error", "message": "unknown token"}}, 401)
        body = await request.json()
        self.heartbeats.append(body)
        return JSONResponse(
            {
                "node_id": "node-1",
                "status": "online",
                "tokens_credited": 1200,
                "earned_far": "0.1200",
                "unpaid_far": "0.1200",
                "heartbeat_interval_s": 30,
            }
        )

    async def unregister(self, request: Request) -> JSONResponse:
        node = self._node(request)
        if node is None:
            return JSONResponse({"error": {"type": "authentication_error", "message": "unknown token"}}, 401)
        self.unregistered.append(node)
        return JSONResponse({"node_id": node, "status": "offline"})


class _Transport(httpx.AsyncBaseTransport):
    def __init__(self, standin: StandIn) -> None:
        self.standin, self.inner = standin, httpx.ASGITransport(app=standin.app)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self.standin.down:
            raise httpx.ConnectError("connection refused", request=request)
        return await self.inner.handle_async_request(request)


@pytest.fixture
def setup() -> tuple[StandIn, DiscoveryAgent, list[str], list[str | None]]:
    wallet, node = Account.create(), Account.create()
    authorization = sign_text(bytes(wallet.key), authorization_message(wallet.address, node.address))
    standin, lines, gateway_tokens = StandIn(), [], []
    agent = DiscoveryAgent(
        "http://discovery.test",
        NodeIdentity(wallet.address, bytes(node.key), "n1", authorization),
        ServingInfo("farlabs/tiny-llama", "12D3KooWpeer", 0, 2, 4, "swarm", "http://127.0.0.1:8300", "eu-west"),
        lambda: NodeStats(tokens_served=42, in_flight=1, throughput_tps=3.5),
        on_gateway_token=gateway_tokens.append,
        http=httpx.AsyncClient(transport=_Transport(standin), base_url="http://discovery.test"),
        emit=lines.append,
    )
    return standin, agent, lines, gateway_tokens


def test_registers_with_a_valid_proof_and_heartbeats_real_figures(setup) -> None:  # type: ignore[no-untyped-def]
    standin, agent, lines, gateway_tokens = setup
    assert asyncio.run(agent.tick()) == 30
    (registration,) = standin.registrations
    assert registration["peer_id"] == "12D3KooWpeer" and registration["start_block"] == 0
    assert registration["end_block"] == 2 and registration["total_blocks"] == 4 and registration["mode"] == "swarm"
    assert registration["hardware"]["ram_total_gb"] > 0 and registration["hardware"]["cpu_count"] >= 1
    assert gateway_tokens == ["gw_1"]
    (beat,) = standin.heartbeats
    assert beat["tokens_served"] == 42 and beat["in_flight"] == 1 and beat["throughput_tps"] == 3.5
    assert beat["hardware"]["ram_used_gb"] > 0
    assert lines[-1].startswith("[Heartbeat] Tokens: 1200 | Earned: 0.12 FAR | VRAM: ")


def test_re_registers_after_the_server_restarts(setup) -> None:  # type: ignore[no-untyped-def]
    standin, agent, _, gateway_tokens = setup
    node_tokens: list[str | None] = []
    agent.on_node_token = node_tokens.append
    asyncio.run(agent.tick())
    standin.restart()
    asyncio.run(agent.tick())
    assert len(standin.registrations) == 2 and len(standin.heartbeats) == 2
    assert gateway_tokens == ["gw_1", "gw_2"]  # the gateway now accepts the new token only
    # `far-node dashboard` reads the kept node token: it follows re-registration, and only live ones are kept
    assert len(node_tokens) == 2 and node_tokens[-1] in standin.tokens and node_tokens[0] not in standin.tokens
    assert agent.failures == 0


def test_backs_off_while_the_server_is_down_and_recovers(setup) -> None:  # type: ignore[no-untyped-def]
    standin, agent, _, _ = setup
    standin.down = True
    delays = [asyncio.run(agent.tick()) for _ in range(8)]
    assert delays == [1, 2, 4, 8, 16, 32, 60, 60]
    standin.down = False
    assert asyncio.run(agent.tick()) == 30
    assert len(standin.heartbeats) == 1


def test_unregisters_and_revokes_the_gateway_token(setup) -> None:  # type: ignore[no-untyped-def]
    standin, agent, _, gateway_tokens = setup
    node_tokens: list[str | None] = []
    agent.on_node_token = node_tokens.append

    async def scenario() -> None:
        await agent.tick()
        await agent.unregister()

    asyncio.run(scenario())
    assert standin.unregistered == ["node-1"]
    assert gateway_tokens[-1] is None
    assert node_tokens[0] is not None and node_tokens[-1] is None  # the kept node token is removed


def test_run_stops_when_asked(setup) -> None:  # type: ignore[no-untyped-def]
    standin, agent, _, _ = setup

    async def scenario() -> None:
        stop = asyncio.Event()
        agent.emit = lambda line: stop.set() if line.startswith("[Heartbeat]") else None  # stop after one beat
        await asyncio.wait_for(agent.run(stop), 10)

    asyncio.run(scenario())
    assert len(standin.heartbeats) == 1
