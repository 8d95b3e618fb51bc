"""One generation from request to record: pick a gateway, stream its tokens, fail over, meter, close the session.

Before the first token a failed gateway is simply replaced (bounded attempts). After tokens have flowed, the
next gateway resumes from the token ids generated so far (`prefix_token_ids`), so the client sees one
continuous stream. A silent gateway is given up after `idle_timeout_s`; no session outlives `deadline_s`.
When the consumer goes away (client disconnect) the upstream request is closed at once and the session is
recorded as cancelled, charged only for the tokens delivered.
"""

from __future__ import annotations

import logging
import secrets
import time
import uuid
from collections.abc import AsyncGenerator
from contextlib import aclosing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import anyio
import asyncpg

from farlabs_protocol import ChatMessage, GatewayRequest

from ..context import ServerContext
from ..db import DatabaseUnavailable, connection_was_lost
from ..db import nodes as db_nodes
from ..db import sessions as db_sessions
from ..db.nodes import RoutableNode
from ..errors import (
    ApiError,
    Conflict,
    ContextLengthExceeded,
    InvalidRequestError,
    NotFound,
    Overloaded,
    StreamInterrupted,
    UpstreamTimeout,
    database_unavailable,
)
from .gateway_choice import Gateway, GatewayStats, RoutePlan, plan_route
from .gateway_client import GatewayEvent, GatewayFailure, finish_cleanly, new_gateway_session, open_generation
from .metering import Work, cost_of, display, fee_of, split
from .metrics import CoordinatorMetrics
from .models import GenerateRequest, GenerateResult, RouteHop, Usage
from .sessions import Opened, Outcome, close_session, open_session, request_fingerprint

log = logging.getLogger(__name__)

RECORD_RETRY_S = 15.0  # how long a finished generation waits for the database to come back to record it


@dataclass(frozen=True)
class CoordinatorConfig:
    min_swarm_nodes: int = 3  # below this many distinct nodes, prefer local-mode gateways (plan, Risk 1)
    max_attempts: int = 4  # gateways tried for one request, first try included
    connect_timeout_s: float = 5.0
    first_token_timeout_s: float = 120.0  # loading a route and the prompt's forward pass can be slow
    idle_timeout_s: float = 30.0  # longest silence between two tokens
    deadline_s: float = 600.0  # no session lives longer
    drain_timeout_s: float = 0.5  # after `done`, how long to wait for the response's end to keep the connection
    # Idle gateway connections are dropped before the gateway's own keep-alive timeout (uvicorn's 5 s), so a
    # request never goes out on a connection the gateway is closing at that moment.
    keepalive_expiry_s: float = 2.0


@dataclass(frozen=True)
class TokenEvent:
    token: str
    tokens_generated: int
    cost_far: Decimal


@dataclass
class _Segment:
    """The part of a generation one gateway produced."""

    gateway: Gateway
    tokens: int = 0
    route: list[dict[str, Any]] | None = None


@dataclass
class _Progress:
    text: list[str] = field(default_factory=list)
    token_ids: list[int] = field(default_factory=list)
    tokens: int = 0
    prompt_tokens: int = 0
    segments: list[_Segment] = field(default_factory=list)
    ttft_s: float | None = None
    finish_reason: str | None = None


class Coordinator:
    """Long-lived (one per app): the HTTP client to gateways, what this replica measured, metrics."""

    def __init__(self, ctx: ServerContext, config: CoordinatorConfig | None = None) -> None:
        self.ctx = ctx
        self.config = config or CoordinatorConfig()
        self.http = new_gateway_session(max_connections=2000, keepalive_s=self.config.keepalive_expiry_s)
        self.stats = GatewayStats()
        self.metrics = CoordinatorMetrics(ctx.registry)

    async def aclose(self) -> None:
        await self.http.close()

    async def start(self, req: GenerateRequest, *, api_key_id: uuid.UUID | None,
                    idempotency_key: str | None) -> Generation:
        """Check capacity and open (or replay) the session. Raises before any byte of the answer is sent."""
        settings = self.ctx.settings
        model_id = req.model_id or settings.default_model_id
        request_id = req.request_id or idempotency_key or "gen_" + secrets.token_hex(12)
        fingerprint = request_fingerprint({**req.model_dump(mode="json"), "caller": str(api_key_id)})
        give_up = time.monotonic() + settings.request_deadline_s
        while True:
            async with self.ctx.db.pool.acquire() as conn:
                rows = self.ctx.node_cache.get(model_id)
                if rows is None:
                    rows = await self._read_nodes(conn, model_id)
                route = self._plan(rows, req.region)
                if not route.gateways:
                    known = model_id == settings.default_model_id or await db_nodes.model_known(conn, model_id)
                    self.metrics.errors.labels("no_capacity" if known else "unknown_model").inc()
                    if not known:
                        raise NotFound(f"The model {model_id!r} does not exist.", code="model_not_found",
                                       param="model_id")
                    raise Overloaded(f"No node can serve {model_id!r} right now; try again shortly.",
                                     headers={"Retry-After": "5"})
                # The caller is part of the fingerprint: another key's request id is a conflict, never a replay.
                opened = await open_session(
                    conn, request_id=request_id, fingerprint=fingerprint, api_key_id=api_key_id,
                    user_wallet=req.user_wallet, model_id=model_id, price_per_token_far=settings.price_per_token_far,
                    region=req.region, replica_id=self.ctx.replica_id,
                )
            if not opened.in_flight:
                break
            # A retry of a request still being generated (the client gave up waiting): join it, then replay.
            if time.monotonic() > give_up:
                raise Conflict(f"request_id {request_id!r} is still being generated.", code="request_in_flight",
                               param="request_id")
            await anyio.sleep(0.25)
        return Generation(self, req, model_id, request_id, opened, route)

    async def refresh_route(self, model_id: str, region: str | None) -> RoutePlan:
        """A fresh read of the model's nodes (not the cached one): every gateway we knew of failed."""
        try:
            async with self.ctx.db.pool.acquire() as conn:
                return self._plan(await self._read_nodes(conn, model_id), region)
        except DatabaseUnavailable as exc:  # mid-stream: the stream's error event says so, like any 503
            raise database_unavailable() from exc

    async def _read_nodes(self, conn: asyncpg.Connection, model_id: str) -> list[RoutableNode]:
        rows = await db_nodes.routable_nodes(conn, model_id, now=self.ctx.clock())
        self.ctx.node_cache.put(model_id, rows)
        return rows

    def _plan(self, rows: list[RoutableNode], region: str | None) -> RoutePlan:
        return plan_route(rows, server_secret=self.ctx.secret, stats=self.stats,
                          min_swarm_nodes=self.config.min_swarm_nodes, region=region)


class Generation:
    """One request's stream of TokenEvents, ending with its GenerateResult."""

    def __init__(self, coordinator: Coordinator, req: GenerateRequest, model_id: str, request_id: str,
                 opened: Opened, route: RoutePlan) -> None:
        self.c = coordinator
        self.req = req
        self.model_id = model_id
        self.request_id = request_id
        self.session_id = opened.session_id
        self.replay = opened.replay
        self.route = route
        self.progress = _Progress()
        self.result: GenerateResult | None = None

    @property
    def partial_text(self) -> str:
        return "".join(self.progress.text)

    async def events(self) -> AsyncGenerator[TokenEvent | GenerateResult, None]:
        if self.replay is not None:
            # An identical request already completed: answer it again without generating or charging.
            self.result = self.replay
            yield TokenEvent(self.replay.text, self.replay.usage.completion_tokens, self.replay.cost_far)
            yield self.replay
            return
        status, error_type = "failed", None
        started = time.monotonic()
        try:
            # aclosing: when our consumer stops early, the inner generators (and the gateway request) close now.
            async with aclosing(self._generate(started)) as tokens:
                async for event in tokens:
                    yield event
            status = "completed"
        except ApiError as exc:
            error_type = exc.type
            self.c.metrics.errors.labels(exc.code).inc()
            raise
        except BaseException:
            # Cancelled (client gone) or closed early by the consumer.
            status = "cancelled"
            self.progress.finish_reason = "cancelled"
            self.c.metrics.errors.labels("client_cancelled").inc()
            raise
        finally:
            with anyio.CancelScope(shield=True):
                try:
                    await self._record_once_reachable(status, error_type, started)
                except Exception:
                    log.exception("could not record session", extra={"session_id": str(self.session_id)})
                    await self._mark_unrecorded()
        if self.result is None:
            raise ApiError("The answer was generated but could not be recorded; it was not charged.",
                           code="record_failed")
        yield self.result

    async def _generate(self, started: float) -> AsyncGenerator[TokenEvent, None]:
        cfg = self.c.config
        p = self.progress
        tried: set[uuid.UUID] = set()
        attempts = 0
        while True:
            gateway = await self._next_gateway(tried)
            if gateway is None or attempts >= cfg.max_attempts:
                if p.tokens:
                    raise StreamInterrupted("The stream broke and no gateway could resume it.",
                                            extra={"partial_text": self.partial_text})
                raise Overloaded(f"No gateway could serve {self.model_id!r}; try again shortly.",
                                 headers={"Retry-After": "5"})
            attempts += 1
            tried.add(gateway.node_id)
            segment = _Segment(gateway)
            p.segments.append(segment)
            self.c.stats.started(gateway.node_id)
            try:
                async with aclosing(self._stream_from(gateway, segment, started)) as tokens:
                    async for token in tokens:
                        yield token
                return
            except GatewayFailure as failure:
                if failure.client_fault and not p.tokens:
                    raise _client_error(failure) from None
                self.c.stats.penalize(gateway.node_id)
                self.c.metrics.errors.labels("gateway_failed").inc()
            except TimeoutError:
                self.c.stats.penalize(gateway.node_id)
                self.c.metrics.errors.labels("gateway_timeout").inc()
                if time.monotonic() - started >= cfg.deadline_s:
                    raise UpstreamTimeout("The swarm did not finish within the deadline.",
                                          extra={"partial_text": self.partial_text}) from None
            finally:
                self.c.stats.finished(gateway.node_id)

    async def _next_gateway(self, tried: set[uuid.UUID]) -> Gateway | None:
        for candidate in self.route.gateways:
            if candidate.node_id not in tried:
                return candidate
        # Everyone we knew of failed: discovery may know better by now (a node re-registered, a new one came).
        self.route = await self.c.refresh_route(self.model_id, self.req.region)
        return next((g for g in self.route.gateways if g.node_id not in tried), None)

    async def _stream_from(self, gateway: Gateway, segment: _Segment, started: float) -> AsyncGenerator[TokenEvent, None]:
        cfg, p, req = self.c.config, self.progress, self.req
        body = GatewayRequest(
            request_id=self.request_id, prompt=req.prompt,
            messages=[ChatMessage(role=m.role, content=m.content) for m in req.messages] if req.messages else None,
            max_tokens=req.max_tokens, temperature=req.temperature, top_p=req.top_p, stop=req.stop, seed=req.seed,
            prefix_token_ids=list(p.token_ids),
        ).model_dump(exclude_none=True)
        async with open_generation(self.c.http, gateway.url, gateway.token, body, request_id=self.request_id,
                                   connect_timeout_s=cfg.connect_timeout_s) as events:
            last = time.monotonic()
            while True:
                wait = cfg.first_token_timeout_s if segment.tokens == 0 else cfg.idle_timeout_s
                wait = min(wait, cfg.deadline_s - (time.monotonic() - started))
                with anyio.fail_after(max(wait, 0.001)):
                    event: GatewayEvent | None = await anext(events, None)
                if event is None:
                    raise GatewayFailure("the gateway closed the stream without finishing")
                if event.kind == "error":
                    raise GatewayFailure("the gateway reported an error", error=event.data.get("error"))
                if isinstance(event.data.get("route"), list):
                    segment.route = event.data["route"]
                if event.kind == "done":
                    p.prompt_tokens = p.prompt_tokens or int(event.data.get("prompt_tokens") or 0)
                    p.finish_reason = event.data.get("finish_reason") or "stop"
                    await finish_cleanly(events, cfg.drain_timeout_s)
                    return
                ids = [int(i) for i in event.data.get("token_ids") or []]
                count = len(ids) or 1
                p.token_ids += ids
                p.text.append(str(event.data.get("token", "")))
                p.tokens += count
                segment.tokens += count
                now = time.monotonic()
                if p.ttft_s is None:
                    p.ttft_s = now - started
                    self.c.stats.observe_ttft(gateway.node_id, p.ttft_s)
                    self.c.metrics.ttft.observe(p.ttft_s)
                else:
                    self.c.metrics.itl.observe(now - last)
                last = now
                yield TokenEvent(event.data.get("token", ""), p.tokens,
                                 cost_of(p.tokens, self.c.ctx.settings.price_per_token_far))

    async def _record_once_reachable(self, status: str, error_type: str | None, started: float) -> None:
        """Record, waiting out a short database outage (a restart): given up at once, the session would stay
        pending with its request id stuck and the delivered tokens unpaid. A retry after a commit whose answer
        was lost cannot record twice: finalize_session() refuses a session that is already final."""
        give_up = time.monotonic() + RECORD_RETRY_S
        delay_s = 0.1
        while True:
            try:
                return await self._record(status, error_type, started)
            except Exception as error:
                lost = isinstance(error, DatabaseUnavailable) or connection_was_lost(error)
                if not lost or time.monotonic() + delay_s > give_up:
                    raise
                log.warning("database unavailable while recording a session; retrying",
                            extra={"session_id": str(self.session_id)})
                await anyio.sleep(delay_s)
                delay_s = min(delay_s * 2, 2.0)

    async def _mark_unrecorded(self) -> None:
        """Last resort after a bug in recording: never leave the request id stuck as pending."""
        async with self.c.ctx.db.pool.acquire() as conn:
            await db_sessions.mark_unrecorded(conn, self.session_id)

    async def _record(self, status: str, error_type: str | None, started: float) -> None:
        """Meter and close the session: the client pays for the tokens it received; nodes split that by work."""
        settings, p = self.c.ctx.settings, self.progress
        cost = cost_of(p.tokens, settings.price_per_token_far)
        fee = fee_of(cost, settings.platform_fee_percent)
        async with self.c.ctx.db.pool.acquire() as conn:
            peers = [h["peer_id"] for s in p.segments for h in (s.route or []) if h.get("peer_id")]
            by_peer = await db_nodes.nodes_by_peer(conn, peers) if peers else {}
            work, hops = _attribute(p.segments, by_peer)
            shares = split(cost - fee, work)
            if not shares:
                fee = cost  # nobody registered did the work (e.g. an unregistered peer): nothing to share
            route_hops = hops if hops else []
            await close_session(conn, self.session_id, Outcome(
                status=status, finish_reason=p.finish_reason if status != "failed" else "error",
                prompt_tokens=p.prompt_tokens, tokens_generated=p.tokens, text=self.partial_text, cost_far=cost,
                platform_fee_far=fee, shares=shares, route=route_hops,
                time_to_first_token_ms=None if p.ttft_s is None else round(p.ttft_s * 1000, 3),
                gateway_node_id=p.segments[-1].gateway.node_id if p.segments else None,
                gateway_attempts=len(p.segments), error_type=error_type,
            ))
        self.c.metrics.tokens.inc(p.tokens)
        self.c.metrics.e2e.observe(time.monotonic() - started)
        self.result = GenerateResult(
            request_id=self.request_id, session_id=self.session_id, model_id=self.model_id, text=self.partial_text,
            finish_reason=p.finish_reason if p.finish_reason in ("stop", "length", "cancelled") else "stop",
            usage=Usage(prompt_tokens=p.prompt_tokens, completion_tokens=p.tokens,
                        total_tokens=p.prompt_tokens + p.tokens),
            cost_far=Decimal(display(cost)), route=route_hops,
            time_to_first_token_ms=None if p.ttft_s is None else round(p.ttft_s * 1000, 3),
        )


def _attribute(segments: list[_Segment], by_peer: dict[str, uuid.UUID]) -> tuple[list[Work], list[RouteHop]]:
    """Who computed what. A segment whose route never arrived (its gateway died) is credited to the gateway's
    own registered span: the one part of that route we know for certain."""
    work: list[Work] = []
    hops: list[RouteHop] = []
    for seg in segments:
        if seg.tokens == 0:
            continue
        if seg.route:
            for hop in seg.route:
                peer = hop.get("peer_id")
                node_id = by_peer.get(peer) if peer else seg.gateway.node_id
                start, end = int(hop["start_block"]), int(hop["end_block"])
                hops.append(RouteHop(node_id=node_id, peer_id=peer, start_block=start, end_block=end))
                if node_id is not None:
                    work.append(Work(node_id, start, end, seg.tokens))
        else:
            g = seg.gateway
            span = (0, g.total_blocks) if g.mode == "local" else (g.start_block, g.end_block)
            hops.append(RouteHop(node_id=g.node_id, peer_id=None, start_block=span[0], end_block=span[1]))
            work.append(Work(g.node_id, span[0], span[1], seg.tokens))
    return work, hops


def _client_error(failure: GatewayFailure) -> ApiError:
    message = str(failure.error.get("message") or "The request was refused by the model.")
    if failure.error.get("type") == "context_length_exceeded":
        return ContextLengthExceeded(message)
    return InvalidRequestError(message, code=str(failure.error.get("code") or "invalid_request"),
                               param=failure.error.get("param"))
