"""Who may call what, for every declared route (enumerated from the endpoint declarations, so a new route is
covered the day it is added): missing or wrong credentials get 401, valid-but-not-allowed ones 403, always in
the error envelope, and a refused request writes nothing."""

from __future__ import annotations

import base64
import json
import secrets
import time
import uuid
from collections.abc import Callable

import httpx
import pytest
from eth_account import Account

from farlabs_server.api import all_endpoints, dashboard
from farlabs_server.api.endpoints import Endpoint
from farlabs_server.app import create_app
from farlabs_server.auth.jwt import issue_jwt
from farlabs_server.settings import Settings

from .conftest import Credentials, RunningServer, assert_envelope

ENDPOINTS = all_endpoints()
PROTECTED = [ep for ep in ENDPOINTS if ep.auth != "public"]
APP_OR_ADMIN = [ep for ep in PROTECTED if ep.auth in ("app", "provider", "admin")]
APP = [ep for ep in PROTECTED if ep.auth == "app"]
ADMIN = [ep for ep in PROTECTED if ep.auth == "admin"]
NODE = [ep for ep in PROTECTED if ep.auth == "node"]
PROVIDER = [ep for ep in PROTECTED if ep.auth == "provider"]

# The whole list of routes anyone may call without a credential (docs/protocol.md, "Credentials"; node
# registration and wallet sign-in prove themselves with signatures; the swarm's bootstrap peers are what a node
# needs before it has any credential, and every node of the swarm learns them anyway). Adding to it is a
# security decision.
PUBLIC = {
    ("GET", "/healthz"), ("GET", "/readyz"), ("GET", "/metrics"), ("GET", "/openapi.json"), ("GET", "/docs"),
    ("GET", "/v1/models"), ("POST", "/nodes/register"), ("GET", "/nodes/bootstrap"), ("POST", "/auth/wallet/challenge"),
    ("POST", "/auth/wallet/verify"),
}

OTHER_WALLET = Account.create().address


def _ids(ep: Endpoint) -> str:
    return f"{ep.method} {ep.path}"


def _url(ep: Endpoint, wallet: str = OTHER_WALLET) -> str:
    """The route with its path parameters filled in plausibly (auth is checked before they are read)."""
    fill = {"{wallet}": wallet, "{model_id:path}": "fuzz/model", "{key_id}": str(uuid.uuid4()),
            "{batch_id}": str(uuid.uuid4())}
    path = ep.path
    for name, value in fill.items():
        path = path.replace(name, value)
    assert "{" not in path, f"no sample value for a parameter of {ep.path}: add one above"
    return path


def call(server: RunningServer, ep: Endpoint, authorization: str | None, *, wallet: str = OTHER_WALLET) -> httpx.Response:
    headers = {"Authorization": authorization} if authorization is not None else {}
    body = {} if ep.request_model is not None else None
    return httpx.request(ep.method, server.url + _url(ep, wallet), headers=headers, json=body, timeout=30)


def _b64(data: dict[str, object]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


def bad_credentials(server: RunningServer, creds: Credentials) -> dict[str, str | None]:
    """Every way to call without a valid credential: each must be 401 on every protected route."""
    now = int(time.time())
    claims = {"iss": "farlabs-server", "sub": "attacker", "scope": "admin", "iat": now, "exp": now + 600}
    return {
        "none": None,
        "scheme without a token": "Bearer",
        "basic scheme": "Basic " + base64.b64encode(f"admin:{creds.admin_key}".encode()).decode(),
        "key without scheme": creds.admin_key,
        "garbage bearer": "Bearer " + secrets.token_hex(20),
        "unknown api key": "Bearer fl_" + secrets.token_urlsafe(32),
        "admin key with a typo": "Bearer " + creds.admin_key[:-1] + ("A" if creds.admin_key[-1] != "A" else "B"),
        "revoked key": f"Bearer {creds.revoked_key}",
        "expired jwt": "Bearer " + issue_jwt(server.secret_key, subject="x", scope="admin", ttl_s=60, now=now - 3600)[0],
        "jwt signed with another secret": "Bearer " + issue_jwt("not-" + server.secret_key, subject="x", scope="admin",
                                                                ttl_s=600)[0],
        "unsigned jwt (alg none)": "Bearer " + _b64({"alg": "none", "typ": "JWT"}) + "." + _b64(claims) + ".",
        "jwt with an unknown scope": "Bearer " + issue_jwt(server.secret_key, subject="x", scope="root",  # type: ignore[arg-type]
                                                           ttl_s=600)[0],
        "gateway token": f"Bearer {creds.gateway_token}",
        "unknown node token": "Bearer fn_" + secrets.token_urlsafe(32),
    }


def test_public_routes_are_exactly_the_allowed_ones() -> None:
    declared = {(ep.method, ep.path) for ep in ENDPOINTS if ep.auth == "public"}
    assert declared == PUBLIC, f"newly public: {declared - PUBLIC}; no longer public: {PUBLIC - declared}"
    assert len(PROTECTED) >= 15


def test_every_served_route_is_declared() -> None:
    """Nothing reaches the router around the declarations (only the dashboard's static, data-free files)."""
    app = create_app(Settings(secret_key="x" * 40, payout_schedule_enabled=False))
    served = {(m, r.path) for r in app.routes for m in (getattr(r, "methods", None) or ()) if m != "HEAD"}
    declared = {(ep.method, ep.path) for ep in ENDPOINTS}
    static = {(m, r.path) for r in dashboard.ROUTES for m in (r.methods or ()) if m != "HEAD"}
    assert served == declared | static
    assert all(path.startswith("/dashboard") for _, path in static)


def test_the_document_marks_exactly_the_protected_routes(server: RunningServer) -> None:
    paths = httpx.get(server.url + "/openapi.json").json()["paths"]
    for ep in ENDPOINTS:
        op = paths[ep.path.replace(":path", "")][ep.method.lower()]
        assert ("security" in op) == (ep.auth != "public"), _ids(ep)


@pytest.mark.parametrize("ep", [ep for ep in ENDPOINTS if ep.auth == "public"], ids=_ids)
def test_public_route_answers_without_credentials(server: RunningServer, ep: Endpoint) -> None:
    response = call(server, ep, None)
    assert response.status_code in (200, 422), response.text  # 422: the POSTs were sent an empty body


@pytest.mark.parametrize("ep", PROTECTED, ids=_ids)
def test_protected_route_refuses_every_bad_credential(server: RunningServer, credentials: Credentials, ep: Endpoint,
                                                       db_snapshot: Callable[[], object]) -> None:
    before = db_snapshot()
    for name, authorization in bad_credentials(server, credentials).items():
        response = call(server, ep, authorization)
        assert response.status_code == 401, f"{name}: {response.status_code} {response.text}"
        assert_envelope(response, 401, "authentication_error")
    assert db_snapshot() == before


@pytest.mark.parametrize("ep", APP_OR_ADMIN, ids=_ids)
def test_a_node_token_is_not_an_app_credential(server: RunningServer, credentials: Credentials, ep: Endpoint) -> None:
    assert_envelope(call(server, ep, f"Bearer {credentials.node_token}"), 401, "authentication_error",
                    "wrong_credential_kind")


@pytest.mark.parametrize("ep", NODE, ids=_ids)
def test_app_credentials_are_not_node_tokens(server: RunningServer, credentials: Credentials, ep: Endpoint) -> None:
    admin_jwt = issue_jwt(server.secret_key, subject="x", scope="admin", ttl_s=600)[0]
    for authorization in (credentials.admin_key, credentials.app_key, credentials.provider_token, admin_jwt):
        assert_envelope(call(server, ep, f"Bearer {authorization}"), 401, "authentication_error")


@pytest.mark.parametrize("ep", ADMIN, ids=_ids)
def test_admin_routes_refuse_app_keys_and_provider_tokens(server: RunningServer, credentials: Credentials, ep: Endpoint,
                                                          db_snapshot: Callable[[], object]) -> None:
    before = db_snapshot()
    app_jwt = httpx.post(server.url + "/auth/token", headers={"Authorization": f"Bearer {credentials.app_key}"}).json()
    for authorization in (credentials.app_key, credentials.provider_token, app_jwt["access_token"]):
        assert_envelope(call(server, ep, f"Bearer {authorization}"), 403, "permission_error", "admin_only")
    assert db_snapshot() == before


@pytest.mark.parametrize("ep", PROVIDER, ids=_ids)
def test_provider_data_is_its_owners_and_the_admins(server: RunningServer, credentials: Credentials,
                                                    ep: Endpoint) -> None:
    provider = f"Bearer {credentials.provider_token}"
    own = credentials.provider_wallet
    assert call(server, ep, provider, wallet=own).status_code == 200
    assert call(server, ep, provider, wallet=own.upper().replace("0X", "0x")).status_code == 200  # any case
    assert_envelope(call(server, ep, provider, wallet=OTHER_WALLET), 403, "permission_error", "not_your_wallet")
    # Not even the wallet whose node is registered here, nor by an app key, nor by that node itself.
    assert_envelope(call(server, ep, provider, wallet=credentials.node_wallet), 403, "permission_error")
    assert_envelope(call(server, ep, f"Bearer {credentials.app_key}", wallet=own), 403, "permission_error")
    assert_envelope(call(server, ep, f"Bearer {credentials.node_token}", wallet=credentials.node_wallet), 401,
                    "authentication_error")
    assert call(server, ep, f"Bearer {credentials.admin_key}", wallet=own).status_code == 200


def test_provider_tokens_are_taken_by_the_provider_data_routes_only() -> None:
    assert {ep.path for ep in PROVIDER} == {ep.path for ep in ENDPOINTS if ep.path.startswith("/provider/{wallet}/")}


@pytest.mark.parametrize("ep", APP, ids=_ids)
def test_a_provider_token_buys_no_inference_or_anything_else(server: RunningServer, credentials: Credentials,
                                                             ep: Endpoint, db_snapshot: Callable[[], object]) -> None:
    """A wallet costs nothing to make, so its sign-in must not reach inference (unbilled) or any other app route."""
    before = db_snapshot()
    assert_envelope(call(server, ep, f"Bearer {credentials.provider_token}"), 403, "permission_error",
                    "provider_token_scope")
    assert db_snapshot() == before


def test_a_provider_token_cannot_mint_tokens_or_be_stretched(server: RunningServer, credentials: Credentials) -> None:
    assert_envelope(httpx.post(server.url + "/auth/token", headers={"Authorization": f"Bearer {credentials.provider_token}"}),
                    403, "permission_error", "provider_token_scope")
    # Re-signing its claims with a wallet of our choosing needs the server secret.
    header, payload, _ = credentials.provider_token.split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["wallet"] = OTHER_WALLET.lower()
    tampered = f"{header}.{_b64(claims)}.{credentials.provider_token.split('.')[2]}"
    response = httpx.get(f"{server.url}/provider/{OTHER_WALLET}/stats", headers={"Authorization": f"Bearer {tampered}"})
    assert_envelope(response, 401, "authentication_error", "invalid_token")


def test_a_jwt_dies_with_the_key_it_was_minted_from(server: RunningServer) -> None:
    """Revoking a leaked key must also cut off the short-lived tokens minted from it."""
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    created = httpx.post(server.url + "/admin/keys", headers=admin, json={"name": "soon-revoked"}).json()
    minted = httpx.post(server.url + "/auth/token", headers={"Authorization": f"Bearer {created['key']}"}).json()
    jwt_auth = {"Authorization": f"Bearer {minted['access_token']}"}
    # A token minted from that token (to stretch its life) is tied to the same key.
    remint = httpx.post(server.url + "/auth/token", headers=jwt_auth).json()
    remint_auth = {"Authorization": f"Bearer {remint['access_token']}"}
    for auth in (jwt_auth, remint_auth):
        assert httpx.get(server.url + "/nodes/active", headers=auth).status_code == 200
    assert httpx.delete(f"{server.url}/admin/keys/{created['id']}", headers=admin).status_code == 200
    for auth in (jwt_auth, remint_auth):
        assert_envelope(httpx.get(server.url + "/nodes/active", headers=auth), 401, "authentication_error", "revoked_key")


def test_a_jwt_keeps_the_rate_limit_of_its_key(server: RunningServer) -> None:
    """A key limited to 2 requests a minute does not get the server's default by trading itself for a JWT."""
    admin = {"Authorization": f"Bearer {server.admin_key}"}
    key = httpx.post(server.url + "/admin/keys", headers=admin, json={"name": "slow", "rate_limit_rpm": 2}).json()["key"]
    minted = httpx.post(server.url + "/auth/token", headers={"Authorization": f"Bearer {key}"})  # request 1
    jwt_auth = {"Authorization": f"Bearer {minted.json()['access_token']}"}
    assert httpx.get(server.url + "/nodes/active", headers=jwt_auth).status_code == 200  # request 2
    limited = httpx.get(server.url + "/nodes/active", headers=jwt_auth)
    assert_envelope(limited, 429, "rate_limit_error")
    assert int(limited.headers["retry-after"]) >= 1
