"""Credentials: API keys, JWTs, admin-only routes, revocation and rate limits, over HTTP on a real database."""

from __future__ import annotations

import jwt
from eth_account import Account
from starlette.testclient import TestClient

from farlabs_devtools.testing import FakeClock, NodeIdentity, assert_error, auth, make_key, sql
from farlabs_server.app import create_app
from farlabs_server.settings import Settings


def test_public_routes_need_no_credentials(client: TestClient) -> None:
    for path in ("/healthz", "/readyz", "/metrics", "/openapi.json", "/docs"):
        assert client.get(path).status_code == 200, path


def test_protected_routes_refuse_missing_and_malformed_credentials(client: TestClient) -> None:
    assert_error(client.get("/nodes/active"), 401, "authentication_error", "missing_credentials")
    assert_error(client.get("/nodes/active", headers={"Authorization": "Basic abc"}), 401, "authentication_error",
                 "invalid_authorization_header")
    assert_error(client.get("/nodes/active", headers=auth("fl_unknown")), 401, "authentication_error",
                 "invalid_api_key")
    assert_error(client.get("/nodes/active", headers=auth("not.a.jwt")), 401, "authentication_error", "invalid_token")


def test_revoked_key_is_refused(client: TestClient, admin_key: str) -> None:
    created = client.post("/admin/keys", headers=auth(admin_key), json={"name": "ci"})
    assert created.status_code == 201, created.text
    key = created.json()["key"]
    assert key.startswith("fl_") and created.json()["key_prefix"] == key[:11]
    assert client.get("/nodes/active", headers=auth(key)).status_code == 200
    revoked = client.delete(f"/admin/keys/{created.json()['id']}", headers=auth(admin_key))
    assert revoked.status_code == 200 and revoked.json()["revoked_at"] is not None
    assert_error(client.get("/nodes/active", headers=auth(key)), 401, "authentication_error", "invalid_api_key")


def test_keys_are_stored_hashed(client: TestClient, admin_key: str) -> None:
    key = client.post("/admin/keys", headers=auth(admin_key), json={"name": "x"}).json()["key"]
    ctx = client.app.state.ctx  # type: ignore[attr-defined]

    async def dump() -> str:
        async with ctx.db.pool.acquire() as conn:
            rows = await conn.fetch("SELECT * FROM far_api_keys")
        return repr([dict(r) for r in rows])

    assert key not in client.portal.call(dump)  # type: ignore[union-attr]
    listed = client.get("/admin/keys", headers=auth(admin_key)).json()["keys"]
    # The first-start admin key, the fixture's admin key, and this one.
    assert all("key" not in k for k in listed) and len(listed) == 3


def test_first_start_writes_an_admin_key_only_its_owner_can_read(client: TestClient) -> None:
    path = client.app.state.settings.data_dir / "admin.key"  # type: ignore[attr-defined]
    assert path.stat().st_mode & 0o777 == 0o600
    key = path.read_text().strip()
    assert client.get("/admin/keys", headers=auth(key)).status_code == 200


def test_admin_routes_refuse_app_keys(client: TestClient, app_key: str) -> None:
    assert_error(client.get("/admin/keys", headers=auth(app_key)), 403, "permission_error", "admin_only")
    assert_error(client.post("/admin/keys", headers=auth(app_key), json={"name": "x"}), 403, "permission_error")


def test_admin_key_validation(client: TestClient, admin_key: str) -> None:
    error = assert_error(client.post("/admin/keys", headers=auth(admin_key), json={"name": "x", "role": "root"}),
                         422, "invalid_request_error", "validation_error")
    assert error["param"] == "role"
    assert_error(client.delete("/admin/keys/fl_nothere", headers=auth(admin_key)), 404, "not_found_error",
                 "api_key_not_found")


def test_jwt_from_api_key_works_until_it_expires(client: TestClient, app_key: str, clock: FakeClock) -> None:
    issued = client.post("/auth/token", headers=auth(app_key), json={"ttl_s": 120})
    assert issued.status_code == 200, issued.text
    token = issued.json()["access_token"]
    assert issued.json()["expires_in"] == 120
    assert client.get("/nodes/active", headers=auth(token)).status_code == 200
    clock.advance(121)
    assert_error(client.get("/nodes/active", headers=auth(token)), 401, "authentication_error", "token_expired")


def test_forged_jwt_is_refused(client: TestClient, clock: FakeClock) -> None:
    claims = {"iss": "farlabs-server", "sub": "x", "scope": "admin", "iat": int(clock().timestamp()),
              "exp": int(clock().timestamp()) + 600}
    forged = jwt.encode(claims, "not-the-server-secret-but-long-enough-for-hs256", algorithm="HS256")
    assert_error(client.get("/admin/keys", headers=auth(forged)), 401, "authentication_error", "invalid_token")
    unsigned = jwt.encode(claims, None, algorithm="none")
    assert_error(client.get("/admin/keys", headers=auth(unsigned)), 401, "authentication_error", "invalid_token")


def test_jwt_keeps_the_keys_role(client: TestClient, admin_key: str, app_key: str) -> None:
    admin_jwt = client.post("/auth/token", headers=auth(admin_key)).json()["access_token"]
    assert client.get("/admin/keys", headers=auth(admin_jwt)).status_code == 200
    app_jwt = client.post("/auth/token", headers=auth(app_key)).json()["access_token"]
    assert_error(client.get("/admin/keys", headers=auth(app_jwt)), 403, "permission_error")


def test_rate_limit_answers_429_with_retry_after(client: TestClient) -> None:
    key = make_key(client, rate_limit_rpm=3)
    for _ in range(3):
        assert client.get("/nodes/active", headers=auth(key)).status_code == 200
    limited = client.get("/nodes/active", headers=auth(key))
    assert_error(limited, 429, "rate_limit_error", "rate_limited")
    assert int(limited.headers["retry-after"]) >= 1
    # Another key is not affected.
    assert client.get("/nodes/active", headers=auth(make_key(client))).status_code == 200


def test_public_signature_routes_are_limited_per_address(settings: Settings, clock: FakeClock,
                                                         database_url: str) -> None:
    """Registration and wallet sign-in have no credential to limit by and each checks a signature: they are
    limited per client address; the public GETs (health, docs, models) are not."""
    app = create_app(settings.model_copy(update={"public_rate_limit_rpm": 2}), clock=clock)
    nodes = [NodeIdentity(wallet=Account.create(), node=Account.create(), name=f"node-{c}") for c in "abc"]
    with TestClient(app, raise_server_exceptions=False) as client:
        for node in nodes[:2]:
            assert client.post("/nodes/register", json=node.registration(clock)).status_code == 201
        limited = client.post("/nodes/register", json=nodes[2].registration(clock))
        assert_error(limited, 429, "rate_limit_error", "rate_limited")
        assert int(limited.headers["retry-after"]) >= 1
        assert_error(client.post("/auth/wallet/challenge", json={"wallet_address": nodes[2].wallet.address}),
                     429, "rate_limit_error", "rate_limited")  # the same address, the same budget
        for _ in range(5):
            assert client.get("/healthz").status_code == 200
        # Another address has its own budget.
        limiter = client.app.state.ctx.rate_limiter  # type: ignore[attr-defined]
        assert client.portal.call(limiter.check, "address:10.0.0.7", 2) is None  # type: ignore[union-attr]
    assert [r["n"] for r in sql(database_url, "SELECT count(*) AS n FROM far_nodes")] == [2]  # nothing written
