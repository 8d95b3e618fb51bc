"""The SDK's models still match the reference server's OpenAPI document.

Runs where `farlabs_server` is installed (the monorepo's `make test`); the SDK alone skips it.
"""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

import farlabs
from farlabs._exceptions import error_from_envelope
from farlabs.resources.chat import build_chat_spec

openapi = pytest.importorskip("farlabs_server.api.openapi")
api = pytest.importorskip("farlabs_server.api")


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    doc: dict[str, Any] = openapi.build_openapi(api.all_endpoints())
    return doc


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _json_response(doc: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    schema = doc["paths"][path][method]["responses"]["200"]["content"]["application/json"]["schema"]
    return _resolve(doc, schema)


def _property_schema(doc: dict[str, Any], schema: dict[str, Any], name: str) -> dict[str, Any]:
    prop = schema["properties"][name]
    if "items" in prop:
        prop = prop["items"]
    for option in prop.get("anyOf", []):
        if "$ref" in option:
            prop = option
    return _resolve(doc, prop)


def _assert_covers(model: type[BaseModel], schema: dict[str, Any]) -> None:
    """The SDK model has exactly the server's fields: none missing, no stale guesses."""
    server, sdk = set(schema.get("properties", {})), set(model.model_fields) - {"type"}
    assert not server - sdk, f"{model.__name__} lacks server fields {sorted(server - sdk)}"
    assert not sdk - server, f"{model.__name__} has fields the server lacks {sorted(sdk - server)}"


def test_generate_body_only_uses_fields_the_server_knows(document: dict[str, Any]) -> None:
    request = document["paths"]["/mesh/inference/generate"]["post"]["requestBody"]
    schema = _resolve(document, request["content"]["application/json"]["schema"])
    spec = build_chat_spec(
        [{"role": "user", "content": "hi"}],
        stream=True,
        model="m",
        max_tokens=1,
        temperature=0,
        top_p=1,
        stop=["x"],
        seed=1,
        user_wallet="0x" + "ab" * 20,
        request_id="r",
        region="eu",
    )
    sent = set(spec.json_body) | {"prompt"}
    unknown = sent - set(schema["properties"])
    assert not unknown, f"the SDK sends fields the server refuses: {sorted(unknown)}"


def test_generate_result_matches_chat_response(document: dict[str, Any]) -> None:
    schema = _json_response(document, "post", "/mesh/inference/generate")
    _assert_covers(farlabs.ChatResponse, schema)
    _assert_covers(farlabs.Usage, _property_schema(document, schema, "usage"))
    _assert_covers(farlabs.RouteHop, _property_schema(document, schema, "route"))


def test_model_list_matches_model(document: dict[str, Any]) -> None:
    schema = _json_response(document, "get", "/v1/models")
    _assert_covers(farlabs.Model, _property_schema(document, schema, "data"))


def test_error_envelope_fields_are_all_read(document: dict[str, Any]) -> None:
    inner = document["components"]["schemas"]["Error"]["properties"]["error"]["properties"]
    envelope = {name: f"v_{name}" for name in inner}
    envelope["type"] = "rate_limit_error"
    error = error_from_envelope(envelope, status_code=429)
    read = {
        "type": error.type,
        "code": error.code,
        "message": error.message,
        "request_id": error.request_id,
        "param": error.param,
    }
    assert set(inner) <= set(read), f"envelope fields the SDK ignores: {set(inner) - set(read)}"
    assert all(read[name] == envelope[name] for name in inner)


PROVIDER_MODELS: list[tuple[str, type[BaseModel], dict[str, type[BaseModel]]]] = [
    ("stats", farlabs.ProviderStats, {}),
    (
        "earnings",
        farlabs.ProviderEarnings,
        {"daily": farlabs.DailyEarning, "by_node": farlabs.NodeEarning},
    ),
    ("payments", farlabs.ProviderPayments, {"payments": farlabs.ProviderPayment}),
    ("nodes", farlabs.ProviderNodes, {"nodes": farlabs.ProviderNode}),
]


@pytest.mark.parametrize(("what", "model", "items"), PROVIDER_MODELS)
def test_provider_models(
    document: dict[str, Any], what: str, model: type[BaseModel], items: dict[str, type[BaseModel]]
) -> None:
    schema = _json_response(document, "get", f"/provider/{{wallet}}/{what}")
    _assert_covers(model, schema)
    for name, item_model in items.items():
        _assert_covers(item_model, _property_schema(document, schema, name))
