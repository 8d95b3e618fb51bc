"""HTTP wiring of discovery: parse, call the service, serialize."""

from __future__ import annotations

from farlabs_protocol import SwarmBootstrap

from ..discovery import service
from ..discovery.models import (
    HeartbeatRequest,
    HeartbeatResponse,
    ModelNodes,
    NodeList,
    RegisterRequest,
    RegisterResponse,
    UnregisterResponse,
)
from .endpoints import Call, Endpoint


async def register(call: Call) -> RegisterResponse:
    ctx = call.ctx
    async with ctx.db.pool.acquire() as conn:
        registered = await service.register_node(
            conn, call.body, now=ctx.clock(), server_secret=ctx.secret,
            max_skew_s=ctx.settings.registration_max_skew_s, heartbeat_interval_s=ctx.settings.heartbeat_interval_s,
        )
    ctx.node_cache.clear()  # routed to from the next request on
    registered.dht_bootstrap = list(ctx.settings.dht_bootstrap)
    return registered


async def bootstrap(call: Call) -> SwarmBootstrap:
    return SwarmBootstrap(dht_bootstrap=list(call.ctx.settings.dht_bootstrap))


async def heartbeat(call: Call) -> HeartbeatResponse:
    row = await call.ctx.heartbeats.write(service.Beat(call.node_token_hash, call.body, call.ctx.clock()))
    return service.heartbeat_response(row, call.body, call.ctx.settings.heartbeat_interval_s)


async def unregister(call: Call) -> UnregisterResponse:
    async with call.ctx.db.pool.acquire() as conn:
        gone = await service.unregister(conn, call.node_id)
    call.ctx.node_cache.clear()
    return gone


async def active(call: Call) -> NodeList:
    async with call.ctx.db.pool.acquire() as conn:
        nodes = await service.active_nodes(conn, now=call.ctx.clock())
    return NodeList(nodes=nodes)


async def model_nodes(call: Call) -> ModelNodes:
    async with call.ctx.db.pool.acquire() as conn:
        return await service.model_nodes(conn, call.path("model_id"), now=call.ctx.clock())


ENDPOINTS = [
    Endpoint("POST", "/nodes/register", register, "Register a node (wallet-proven)", "discovery", auth="public",
             request_model=RegisterRequest, response_model=RegisterResponse, status_code=201),
    Endpoint("POST", "/nodes/heartbeat", heartbeat, "A node's heartbeat (every 30 s)", "discovery", auth="node",
             request_model=HeartbeatRequest, response_model=HeartbeatResponse, node_lookup_in_handler=True),
    Endpoint("POST", "/nodes/unregister", unregister, "A node going offline", "discovery", auth="node",
             response_model=UnregisterResponse),
    Endpoint("GET", "/nodes/bootstrap", bootstrap, "The swarm's DHT bootstrap peers, for nodes joining it", "discovery",
             auth="public", response_model=SwarmBootstrap),
    Endpoint("GET", "/nodes/active", active, "Nodes online now", "discovery", response_model=NodeList),
    Endpoint("GET", "/models/{model_id:path}/nodes", model_nodes, "Which nodes serve which blocks of a model",
             "discovery", response_model=ModelNodes),
]
