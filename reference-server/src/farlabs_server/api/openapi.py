"""The OpenAPI 3.1 document, generated from the endpoint declarations and their pydantic models."""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ValidationError
from pydantic.json_schema import models_json_schema

from .._version import __version__
from .endpoints import Endpoint

_ERROR_SCHEMA = {
    "type": "object",
    "required": ["error"],
    "properties": {
        "error": {
            "type": "object",
            "required": ["type", "code", "message", "request_id"],
            "properties": {
                "type": {"type": "string"},
                "code": {"type": "string"},
                "message": {"type": "string"},
                "request_id": {"type": ["string", "null"]},
                "param": {"type": "string"},
            },
        }
    },
}
_PATH_PARAM = re.compile(r"{([a-zA-Z_]+)(?::[a-z]+)?}")


def _body_required(model: type[BaseModel]) -> bool:
    """The server reads an empty body as `{}` (endpoints.parse_body), so a body is optional when `{}` is valid."""
    try:
        model.model_validate({})
    except ValidationError:
        return True
    return False


def _event_stream(ep: Endpoint, refs: dict[Any, Any]) -> dict[str, Any]:
    """`text/event-stream` content; `x-sse-events` names each event and the schema of its `data:` JSON."""
    events = []
    for e in ep.sse_events:
        event: dict[str, Any] = {"event": e.event or "message", "description": e.description}
        if e.model is not None:
            event["schema"] = refs[(e.model, "serialization")]
        elif e.event == "error":
            event["schema"] = {"$ref": "#/components/schemas/Error"}
        events.append(event)
    content: dict[str, Any] = {"schema": {"type": "string"}}
    if events:
        content["x-sse-events"] = events
    return content


def build_openapi(endpoints: list[Endpoint]) -> dict[str, Any]:
    models: set[type[BaseModel]] = set()
    for ep in endpoints:
        models.update(m for m in (ep.request_model, ep.response_model) if m is not None)
        models.update(e.model for e in ep.sse_events if e.model is not None)
    modes: tuple[Literal["validation", "serialization"], ...] = ("validation", "serialization")
    keyed = [(m, mode) for m in sorted(models, key=lambda m: m.__name__) for mode in modes]
    refs, defs = models_json_schema(keyed, ref_template="#/components/schemas/{model}")
    schemas = dict(defs.get("$defs", {}))
    schemas["Error"] = _ERROR_SCHEMA

    paths: dict[str, dict[str, Any]] = {}
    for ep in endpoints:
        if not ep.include_in_schema:
            continue
        path = _PATH_PARAM.sub(r"{\1}", ep.path)
        op: dict[str, Any] = {
            "summary": ep.summary,
            "operationId": f"{ep.method.lower()}_{re.sub(r'[^a-z0-9]+', '_', path.lower()).strip('_')}",
            "tags": [ep.tag],
        }
        params = [{"name": n, "in": "path", "required": True, "schema": {"type": "string"}}
                  for n in _PATH_PARAM.findall(ep.path)]
        params += [{"name": n, "in": "query", "required": False, "description": d, "schema": {"type": "string"}}
                   for n, d in ep.query.items()]
        if params:
            op["parameters"] = params
        if ep.request_model is not None:
            op["requestBody"] = {
                "required": _body_required(ep.request_model),
                "content": {"application/json": {"schema": refs[(ep.request_model, "validation")]}},
            }
        ok: dict[str, Any] = {"description": "OK"}
        if ep.response_model is not None:
            ok["content"] = {"application/json": {"schema": refs[(ep.response_model, "serialization")]}}
        elif ep.response_media is not None:
            kind = "object" if ep.response_media == "application/json" else "string"
            ok["content"] = {ep.response_media: {"schema": {"type": kind}}}
        if ep.streams:
            ok.setdefault("content", {})["text/event-stream"] = _event_stream(ep, refs)
        error = {"description": "Error", "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}}
        op["responses"] = {str(ep.status_code): ok, "4XX": error, "5XX": error}
        if ep.auth != "public":
            op["security"] = [{"bearer": []}]
        op["x-farlabs-auth"] = ep.auth
        paths.setdefault(path, {})[ep.method.lower()] = op

    return {
        "openapi": "3.1.0",
        "info": {"title": "Far Mesh reference server", "version": __version__,
                 "description": "Decentralized LLM inference: coordinator, discovery, payouts and provider API."},
        "paths": paths,
        "components": {
            "schemas": schemas,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "An API key (fl_…), a JWT, or a node token (fn_…)."}},
        },
    }
