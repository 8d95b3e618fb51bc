"""CORS as docs/server-configuration.md documents it for the browser SDK: the configured origin may preflight
and call with exactly the headers the SDK sends, and read the headers it reads — on errors too; any other
origin gets no CORS grant at all."""

from __future__ import annotations

import re
from pathlib import Path

import httpx
import pytest

from farlabs_server.app import CORS_EXPOSED_HEADERS, CORS_REQUEST_HEADERS

from .conftest import Credentials, RunningServer

ROOT = Path(__file__).resolve().parents[2]
EVIL = "http://evil.example"


def sdk_request_headers() -> set[str]:
    """Every header the TypeScript SDK sets on a request (read from its source, so the test follows it)."""
    source = (ROOT / "ts-sdk/src/internal/http.ts").read_text()
    names = {name.lower() for name in re.findall(r"headers\.set\('([A-Za-z-]+)'", source)}
    assert {"authorization", "content-type"} <= names, names
    return names


def preflight(server: RunningServer, origin: str, method: str, headers: set[str], path: str) -> httpx.Response:
    return httpx.options(server.url + path, headers={
        "Origin": origin, "Access-Control-Request-Method": method,
        "Access-Control-Request-Headers": ", ".join(sorted(headers))})


def test_the_configuration_page_lists_what_the_server_allows() -> None:
    page = (ROOT / "docs/server-configuration.md").read_text()
    row = next(line for line in page.splitlines() if line.startswith("| `FARLABS_CORS_ORIGINS`"))
    for header in (*CORS_REQUEST_HEADERS, *CORS_EXPOSED_HEADERS):
        assert header.lower() in row.lower(), header


@pytest.mark.parametrize(("method", "path"), [("POST", "/v1/chat/completions"), ("POST", "/mesh/inference/generate"),
                                              ("GET", "/v1/models"), ("DELETE", "/admin/keys/x")])
def test_preflight_from_the_allowed_origin_grants_what_the_sdk_sends(server: RunningServer, method: str,
                                                                     path: str) -> None:
    # Accept is CORS-safelisted; a browser does not ask for it.
    wanted = sdk_request_headers() - {"accept"}
    response = preflight(server, server.browser_origin, method, wanted, path)
    assert response.status_code == 200, response.text
    assert response.headers["access-control-allow-origin"] == server.browser_origin
    assert method in response.headers["access-control-allow-methods"]
    granted = {h.strip().lower() for h in response.headers["access-control-allow-headers"].split(",")}
    assert wanted <= granted, wanted - granted
    assert "access-control-allow-credentials" not in response.headers  # bearer tokens, never cookies


def test_preflight_from_another_origin_is_refused(server: RunningServer) -> None:
    response = preflight(server, EVIL, "POST", {"authorization", "content-type"}, "/v1/chat/completions")
    assert response.status_code == 400
    assert "access-control-allow-origin" not in response.headers


def test_preflight_for_a_header_nobody_sends_is_refused(server: RunningServer) -> None:
    response = preflight(server, server.browser_origin, "POST", {"authorization", "x-api-key"}, "/v1/chat/completions")
    assert response.status_code == 400


def test_actual_requests_expose_the_request_id_to_the_page(server: RunningServer, credentials: Credentials) -> None:
    origin = {"Origin": server.browser_origin}
    auth = {"Authorization": f"Bearer {credentials.app_key}"}
    answers = {
        "ok": httpx.get(server.url + "/v1/models", headers=origin),
        "401": httpx.get(server.url + "/nodes/active", headers=origin),
        "404": httpx.get(server.url + "/no/such/route", headers=origin),
        "422": httpx.post(server.url + "/mesh/inference/generate", headers=origin | auth, json={"max_tokens": 0}),
        "503": httpx.post(server.url + "/mesh/inference/generate", headers=origin | auth, json={"prompt": "hi"}),
        # Over the body limit: answered before the app reads the body, yet still readable by the page.
        "413": httpx.post(server.url + "/mesh/inference/generate", headers=origin | auth | {"content-type": "application/json"},
                          content=b'{"prompt": "' + b"x" * 1_100_000 + b'"}'),
    }
    for label, response in answers.items():
        assert response.headers.get("access-control-allow-origin") == server.browser_origin, (label, response.headers)
        exposed = {h.strip().lower() for h in response.headers["access-control-expose-headers"].split(",")}
        assert {"x-request-id", "retry-after"} <= exposed, label
        assert response.headers["x-request-id"], label
    assert answers["413"].status_code == 413 and answers["503"].headers["retry-after"]


def test_another_origin_gets_no_grant_on_actual_requests(server: RunningServer) -> None:
    response = httpx.get(server.url + "/v1/models", headers={"Origin": EVIL})
    assert response.status_code == 200  # the server answers; the browser withholds it from the page
    assert "access-control-allow-origin" not in response.headers
