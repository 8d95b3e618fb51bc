"""Health, metrics, OpenAPI, docs, request ids, the error envelope for unknown routes and oversize bodies."""

from __future__ import annotations

from collections.abc import Iterator

from starlette.testclient import TestClient

from farlabs_devtools.testing import assert_error, auth


def test_health_and_ready(client: TestClient) -> None:
    assert client.get("/healthz").json()["status"] == "ok"
    assert client.get("/readyz").json()["status"] == "ready"


def test_request_id_is_echoed_or_made(client: TestClient) -> None:
    assert client.get("/healthz").headers["x-request-id"].startswith("req_")
    assert client.get("/healthz", headers={"X-Request-ID": "trace-42"}).headers["x-request-id"] == "trace-42"
    # A hostile id is replaced, not echoed.
    assert client.get("/healthz", headers={"X-Request-ID": "a b\tc"}).headers["x-request-id"].startswith("req_")


def test_unknown_route_and_method_use_the_envelope(client: TestClient) -> None:
    assert_error(client.get("/no/such/route"), 404, "not_found_error", "route_not_found")
    traced = client.get("/no/such/route", headers={"X-Request-ID": "r1"})
    assert traced.json()["error"]["request_id"] == "r1" == traced.headers["x-request-id"]
    not_allowed = client.put("/healthz")
    assert_error(not_allowed, 405, "invalid_request_error", "method_not_allowed")
    assert not_allowed.headers["allow"] == "GET, HEAD"  # RFC 9110: a 405 names the methods that work
    # ...all of them, also where two endpoints share a path
    assert client.put("/admin/keys").headers["allow"] == "GET, HEAD, POST"


def test_a_bug_is_a_500_in_the_envelope_with_its_request_id(client: TestClient) -> None:
    async def boom(request: object) -> None:
        raise RuntimeError("a bug")

    client.app.add_route("/boom", boom)  # type: ignore[attr-defined]
    response = client.get("/boom", headers={"X-Request-ID": "trace-500"})
    assert_error(response, 500, "api_error", "internal_error")
    assert response.json()["error"]["request_id"] == "trace-500" == response.headers["x-request-id"]


def test_oversize_body_gets_413(client: TestClient) -> None:
    big = b'{"pad": "' + b"x" * 1_100_000 + b'"}'
    assert_error(client.post("/nodes/register", content=big, headers={"content-type": "application/json"}),
                 413, "invalid_request_error", "body_too_large")


def test_oversize_chunked_body_gets_413(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(20):
            yield b"x" * 100_000

    assert_error(client.post("/nodes/register", content=chunks(), headers={"content-type": "application/json"}),
                 413, "invalid_request_error", "body_too_large")


def test_metrics_count_requests(client: TestClient, app_key: str) -> None:
    client.get("/nodes/active", headers=auth(app_key))
    text = client.get("/metrics").text
    assert 'farlabs_http_requests_total{method="GET",route="/nodes/active",status="200"} 1.0' in text
    assert "farlabs_http_request_duration_seconds_bucket" in text


def test_openapi_describes_every_route(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert spec["openapi"].startswith("3.1")
    for path, method in [("/nodes/register", "post"), ("/nodes/heartbeat", "post"), ("/nodes/unregister", "post"),
                         ("/nodes/active", "get"), ("/models/{model_id}/nodes", "get"), ("/auth/token", "post")]:
        assert method in spec["paths"][path], (path, method)
    register = spec["paths"]["/nodes/register"]["post"]
    assert register["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("RegisterRequest")
    assert "security" not in register and "security" in spec["paths"]["/nodes/active"]["get"]
    # A body is required only where an empty one (read as {}) would be refused.
    assert register["requestBody"]["required"] is True
    assert spec["paths"]["/auth/token"]["post"]["requestBody"]["required"] is False
    schema = spec["components"]["schemas"]
    assert "wallet_address" in schema["RegisterRequest"]["properties"]
    assert "Error" in schema


def test_docs_page_lists_the_routes(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.headers["content-type"].startswith("text/html")
    assert "/nodes/register" in page.text and "RegisterRequest" in page.text
