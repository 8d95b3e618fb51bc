"""Short-lived tokens for browsers, and API-key management for admins."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..auth import keys
from ..auth.jwt import issue_jwt
from .endpoints import Call, Endpoint


class TokenRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    ttl_s: int | None = Field(None, ge=60, le=86_400, description="Lifetime; at most the server's FARLABS_JWT_TTL_S.")


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    expires_at: int


class KeyCreateRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(min_length=1, max_length=100)
    role: Literal["app", "admin"] = "app"
    rate_limit_rpm: int | None = Field(None, ge=1, le=1_000_000)


class KeyInfo(BaseModel):
    id: uuid.UUID
    name: str
    key_prefix: str
    role: Literal["app", "admin"]
    rate_limit_rpm: int | None
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


class KeyCreated(KeyInfo):
    key: str = Field(description="The API key itself. Shown once; only its hash is stored.")


class KeyList(BaseModel):
    keys: list[KeyInfo]


def _info(record: keys.ApiKeyRecord) -> dict[str, object]:
    return {f: getattr(record, f) for f in KeyInfo.model_fields}


async def token(call: Call) -> TokenResponse:
    """Trade an API key for a short-lived JWT with the same rights (for browsers and edge functions)."""
    principal = call.principal
    assert principal is not None and principal.role != "provider"  # auth="app" refuses provider tokens
    body = call.body or TokenRequest()
    ttl = min(body.ttl_s or call.ctx.settings.jwt_ttl_s, call.ctx.settings.jwt_ttl_s)
    claims = {"key": str(principal.api_key_id)} if principal.api_key_id else {}
    access_token, expires_at = issue_jwt(
        call.ctx.secret, subject=principal.subject, scope=principal.role, ttl_s=ttl,
        now=call.ctx.clock().timestamp(), **claims,
    )
    return TokenResponse(access_token=access_token, expires_in=ttl, expires_at=expires_at)


async def create_key(call: Call) -> KeyCreated:
    async with call.ctx.db.pool.acquire() as conn:
        secret, record = await keys.create_key(
            conn, call.body.name, role=call.body.role, rate_limit_rpm=call.body.rate_limit_rpm
        )
    return KeyCreated(key=secret, **_info(record))


async def list_keys(call: Call) -> KeyList:
    async with call.ctx.db.pool.acquire() as conn:
        records = await keys.list_keys(conn, include_revoked=call.request.query_params.get("include_revoked") == "true")
    return KeyList(keys=[KeyInfo(**_info(r)) for r in records])


async def revoke_key(call: Call) -> KeyInfo:
    async with call.ctx.db.pool.acquire() as conn:
        return KeyInfo(**_info(await keys.revoke_key(conn, call.path("key_id"))))


ENDPOINTS = [
    Endpoint("POST", "/auth/token", token, "Exchange a credential for a short-lived JWT", "auth",
             request_model=TokenRequest, response_model=TokenResponse),
    Endpoint("POST", "/admin/keys", create_key, "Create an API key", "admin", auth="admin",
             request_model=KeyCreateRequest, response_model=KeyCreated, status_code=201),
    Endpoint("GET", "/admin/keys", list_keys, "List API keys", "admin", auth="admin", response_model=KeyList,
             query={"include_revoked": "true to include revoked keys"}),
    Endpoint("DELETE", "/admin/keys/{key_id}", revoke_key, "Revoke an API key (by id or prefix)", "admin",
             auth="admin", response_model=KeyInfo),
]
