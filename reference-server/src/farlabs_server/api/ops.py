"""Health, readiness, metrics, the OpenAPI document and a human-readable docs page."""

from __future__ import annotations

import html
import json
from typing import Any

import asyncpg
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel
from starlette.responses import HTMLResponse, JSONResponse, Response

from .._version import __version__
from ..db import Database
from ..db.database import ping
from ..errors import Overloaded
from .endpoints import Call, Endpoint


class Health(BaseModel):
    status: str
    version: str


async def healthz(call: Call) -> Health:
    """The process is up (no dependencies checked)."""
    return Health(status="ok", version=__version__)


async def readyz(call: Call) -> Health:
    """Ready to serve: the database answers."""
    try:
        await _database_answers(call.ctx.db)
    except Exception:
        raise Overloaded("The database is not reachable.", code="database_unavailable") from None
    return Health(status="ready", version=__version__)


async def _database_answers(db: Database) -> None:
    try:
        async with db.pool.acquire(timeout=2) as conn:
            await ping(conn)
    except TimeoutError:
        # Every pooled connection is busy (a burst of traffic): that is load, not an outage, and a load balancer
        # must not take a busy replica out of rotation for it. Ask the database on a connection of its own.
        conn = await asyncpg.connect(db.dsn, timeout=2)
        try:
            await ping(conn, timeout_s=2)
        finally:
            await conn.close()


async def metrics(call: Call) -> Response:
    return Response(generate_latest(call.ctx.registry), media_type=CONTENT_TYPE_LATEST)


async def openapi(call: Call) -> Response:
    return JSONResponse(call.request.app.state.openapi)


async def docs(call: Call) -> Response:
    return HTMLResponse(render_docs(call.request.app.state.openapi))


def render_docs(spec: dict[str, Any]) -> str:
    """A self-contained page (no CDN: it must work offline) listing every operation and its schemas."""
    rows = []
    for path, ops in spec["paths"].items():
        for method, op in ops.items():
            lock = "🔒" if op.get("security") else "public"
            body = op.get("requestBody", {}).get("content", {}).get("application/json", {}).get("schema", {})
            ref = body.get("$ref", "").rsplit("/", 1)[-1]
            rows.append(
                f"<tr><td><code>{method.upper()}</code></td><td><code>{html.escape(path)}</code></td>"
                f"<td>{html.escape(op['summary'])}</td><td>{lock}</td>"
                f"<td>{f'<a href=#{ref}>{ref}</a>' if ref else ''}</td></tr>"
            )

    schemas = "".join(
        f"<h3 id={html.escape(name)}>{html.escape(name)}</h3><pre>{html.escape(json.dumps(s, indent=2))}</pre>"
        for name, s in spec["components"]["schemas"].items()
    )
    return f"""<!doctype html><html lang=en><head><meta charset=utf-8>
<meta name=viewport content="width=device-width,initial-scale=1"><title>Far Mesh API</title>
<style>body{{font:15px/1.5 system-ui,sans-serif;max-width:1100px;margin:2rem auto;padding:0 1rem}}
table{{border-collapse:collapse;width:100%}}td,th{{border-bottom:1px solid #ddd;padding:.4rem;text-align:left}}
pre{{background:#f6f8fa;padding:.8rem;overflow:auto}}</style></head><body>
<h1>Far Mesh API <small>{html.escape(spec['info']['version'])}</small></h1>
<p>{html.escape(spec['info']['description'])} Machine-readable: <a href=/openapi.json>/openapi.json</a>.
Errors always use the envelope <code>{{"error": {{"type", "code", "message", "request_id"}}}}</code>.</p>
<table><tr><th>Method</th><th>Path</th><th>What</th><th>Auth</th><th>Body</th></tr>{''.join(rows)}</table>
<h2>Schemas</h2>{schemas}</body></html>"""


ENDPOINTS = [
    Endpoint("GET", "/healthz", healthz, "Liveness", "ops", auth="public", response_model=Health),
    Endpoint("GET", "/readyz", readyz, "Readiness (database reachable)", "ops", auth="public", response_model=Health),
    Endpoint("GET", "/metrics", metrics, "Prometheus metrics", "ops", auth="public", response_media="text/plain"),
    Endpoint("GET", "/openapi.json", openapi, "This API's OpenAPI document", "ops", auth="public",
             response_media="application/json"),
    Endpoint("GET", "/docs", docs, "Human-readable API docs", "ops", auth="public", response_media="text/html"),
]
