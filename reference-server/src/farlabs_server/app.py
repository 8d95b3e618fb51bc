"""The app factory: settings in, a Starlette app out (database, middleware, routes, error envelope)."""

from __future__ import annotations

import contextlib
import logging
import os
from collections.abc import AsyncIterator, Callable
from datetime import datetime
from pathlib import Path

import asyncpg
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Match

from .api import all_endpoints, dashboard
from .api.middleware import BodyLimitMiddleware, RequestContextMiddleware
from .api.openapi import build_openapi
from .auth import keys
from .context import ServerContext, load_server_secret, utc_now
from .coordinator.engine import Coordinator, CoordinatorConfig
from .db import CONNECTION_LOST, Database, DatabaseUnavailable, connection_was_lost, open_database
from .errors import ApiError, InvalidRequestError, NotFound, database_unavailable
from .payouts.scheduler import start_payouts
from .replicas import ReplicaLease
from .settings import Settings

log = logging.getLogger(__name__)


# What the browser SDK (ts-sdk/src/internal/http.ts) sends and reads; docs/server-configuration.md lists them.
CORS_METHODS = ("GET", "POST", "DELETE")
CORS_REQUEST_HEADERS = ("authorization", "content-type", "idempotency-key", "x-request-id", "x-farlabs-sdk")
CORS_EXPOSED_HEADERS = ("x-request-id", "retry-after")


def _error_response(request: Request, error: ApiError) -> JSONResponse:
    request_id = getattr(request.state, "request_id", None)
    return JSONResponse(error.payload(request_id), status_code=error.status_code, headers=error.headers)


async def _api_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, ApiError)
    return _error_response(request, exc)


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HTTPException)
    headers = dict(exc.headers or {})
    if exc.status_code == 404:
        error: ApiError = NotFound(f"No route {request.method} {request.url.path}.", code="route_not_found")
    elif exc.status_code == 405:
        headers["Allow"] = _allowed_methods(request)  # RFC 9110: a 405 names every method the path takes
        error = InvalidRequestError(f"{request.method} is not allowed on {request.url.path}.",
                                    code="method_not_allowed", status=405, headers=headers)
    else:
        error = ApiError(str(exc.detail), status=exc.status_code, headers=headers)
    return _error_response(request, error)


def _allowed_methods(request: Request) -> str:
    """Every method some route serves on this path (Starlette names only the first route's on its own)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches(request.scope)
        if match != Match.NONE:
            methods.update(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


async def _database_unavailable(request: Request, exc: Exception) -> JSONResponse:
    return _error_response(request, database_unavailable())


async def _connection_lost(request: Request, exc: Exception) -> JSONResponse:
    if not connection_was_lost(exc):  # an InterfaceError of another kind is a bug
        return await _unhandled(request, exc)
    log.warning("the database connection was lost during a request", extra={"error": type(exc).__name__})
    return _error_response(request, database_unavailable())


async def _client_gone(request: Request, exc: Exception) -> Response:
    """The client hung up before its whole request arrived: nobody to answer, and no fault of ours."""
    log.info("the client disconnected before sending its whole request")
    return Response(status_code=499)  # nginx's "client closed request", for the access log and metrics


async def _unhandled(request: Request, exc: Exception) -> JSONResponse:
    log.exception("unhandled error", exc_info=exc)
    # Answered from Starlette's outermost middleware, outside RequestContextMiddleware: add its header here.
    request_id = getattr(request.state, "request_id", None)
    headers = {"X-Request-ID": request_id} if request_id else None
    return _error_response(request, ApiError("Internal server error; the request id helps us find it.", headers=headers))


def write_admin_key(data_dir: Path, key: str) -> Path:
    """Keep the first admin key where only this user can read it (never in the logs)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / "admin.key"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(key + "\n")
    return path


async def bootstrap_admin(ctx: ServerContext) -> None:
    async with ctx.db.pool.acquire() as conn:
        if ctx.settings.admin_key is not None:
            await keys.ensure_admin_key(conn, ctx.settings.admin_key.get_secret_value())
            return
        first = await keys.bootstrap_first_admin(conn)
    if first is not None:
        path = write_admin_key(ctx.settings.data_dir, first)
        log.warning("created the first admin API key; it is in a file readable only by this user",
                    extra={"path": str(path)})


def coordinator_config(settings: Settings) -> CoordinatorConfig:
    return CoordinatorConfig(
        min_swarm_nodes=settings.min_swarm_nodes, max_attempts=settings.max_gateway_attempts,
        first_token_timeout_s=settings.first_token_timeout_s, idle_timeout_s=settings.idle_timeout_s,
        deadline_s=settings.request_deadline_s,
    )


def create_app(
    settings: Settings | None = None, *, database: Database | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> Starlette:
    """Build the server. With `database` given (tests), the app uses it and leaves it open at shutdown."""
    settings = settings or Settings()
    endpoints = all_endpoints()

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        db = database or await open_database(settings)
        try:
            secret = await load_server_secret(db, settings.secret_key.get_secret_value() if settings.secret_key else None)
            ctx = ServerContext(settings=settings, db=db, secret=secret, clock=clock, registry=app.state.registry)
            app.state.ctx = ctx
            app.state.coordinator = Coordinator(ctx, coordinator_config(settings))
            await bootstrap_admin(ctx)
            app.state.lease = ReplicaLease(db, lease_s=settings.replica_lease_s, replica_id=ctx.replica_id)
            await app.state.lease.start()
            app.state.payouts = start_payouts(ctx)
            yield
            await app.state.payouts.stop()
            await app.state.coordinator.aclose()
            await ctx.heartbeats.aclose()
            await app.state.lease.stop()
            await ctx.rate_limiter.aclose()
        finally:
            if database is None:
                await db.close()

    app = Starlette(
        routes=[ep.route() for ep in endpoints] + dashboard.ROUTES,  # static files: not in the OpenAPI document
        exception_handlers={ApiError: _api_error, HTTPException: _http_error, ClientDisconnect: _client_gone,
                            DatabaseUnavailable: _database_unavailable, Exception: _unhandled,
                            **dict.fromkeys((*CONNECTION_LOST, asyncpg.InterfaceError), _connection_lost)},
        lifespan=lifespan,
    )
    from prometheus_client import CollectorRegistry

    app.state.registry = CollectorRegistry()
    app.state.openapi = build_openapi(endpoints)
    app.state.settings = settings
    # Each add wraps the ones before: the request id exists before anything can fail, and CORS sits outside
    # the body limit so a browser can read its 413 too.
    app.add_middleware(BodyLimitMiddleware, max_body_bytes=settings.max_body_bytes)
    if settings.cors_origins:
        app.add_middleware(
            CORSMiddleware, allow_origins=settings.cors_origins, allow_methods=list(CORS_METHODS),
            allow_headers=list(CORS_REQUEST_HEADERS), expose_headers=list(CORS_EXPOSED_HEADERS), max_age=600,
        )
    app.add_middleware(RequestContextMiddleware, registry=app.state.registry)
    return app
