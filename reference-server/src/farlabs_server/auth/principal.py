"""Turning an `Authorization: Bearer …` header into a Principal, or an AuthenticationError."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from ..db import nodes as db_nodes
from ..errors import AuthenticationError, unknown_node_token
from .jwt import verify_jwt
from .keys import find_active_key_by_id, use_active_key, use_active_key_within_limit
from .ratelimit import refusal
from .tokens import API_KEY_PREFIX, NODE_TOKEN_PREFIX, hash_secret

if TYPE_CHECKING:
    from ..context import ServerContext

Role = Literal["app", "admin", "provider"]


@dataclass(frozen=True)
class Principal:
    """An app (API key or JWT), an admin, or a provider signed in for one wallet."""

    subject: str  # the API key's id, or the JWT's subject
    role: Role
    api_key_id: uuid.UUID | None = None
    wallet: str | None = None  # provider tokens: the wallet they may read
    rate_limit_rpm: int | None = None

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"


def bearer_token(authorization: str | None) -> str:
    if not authorization:
        raise AuthenticationError(
            "Missing credentials: send 'Authorization: Bearer <API key or token>'.", code="missing_credentials"
        )
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise AuthenticationError("Use 'Authorization: Bearer <API key or token>'.", code="invalid_authorization_header")
    return token.strip()


async def authenticate_app(ctx: ServerContext, authorization: str | None) -> Principal:
    """An API key (`fl_…`) or a JWT issued by this server; rate-limited per credential."""
    token = bearer_token(authorization)
    default_rpm = ctx.settings.rate_limit_rpm
    counted = False
    if token.startswith(API_KEY_PREFIX):
        async with ctx.db.pool.acquire() as conn:
            if ctx.rate_limiter.counts_with_key_lookup:
                key, wait_s = await use_active_key_within_limit(conn, token, default_rpm)
                counted = True
            else:
                key, wait_s = await use_active_key(conn, token), None
        if key is None:
            raise AuthenticationError("Invalid or revoked API key.", code="invalid_api_key")
        if wait_s is not None:
            raise refusal(key.rate_limit_rpm or default_rpm, wait_s)
        principal = Principal(subject=str(key.id), role=key.role, api_key_id=key.id, rate_limit_rpm=key.rate_limit_rpm)
    elif token.startswith(NODE_TOKEN_PREFIX):
        raise AuthenticationError("A node token cannot call this endpoint.", code="wrong_credential_kind")
    else:
        claims = verify_jwt(ctx.secret, token, now=ctx.clock().timestamp())
        api_key_id = uuid.UUID(claims["key"]) if isinstance(claims.get("key"), str) else None
        rate_limit_rpm = None
        if api_key_id is not None:  # minted from an API key: good only while that key lives, and under its limit
            async with ctx.db.pool.acquire() as conn:
                key = await find_active_key_by_id(conn, api_key_id)
            if key is None:
                raise AuthenticationError("The API key this token was minted from is revoked.", code="revoked_key")
            rate_limit_rpm = key.rate_limit_rpm
        principal = Principal(
            subject=str(claims["sub"]), role=claims["scope"], wallet=claims.get("wallet"), api_key_id=api_key_id,
            rate_limit_rpm=rate_limit_rpm,
        )
    if not counted:
        await ctx.rate_limiter.check(principal.subject, principal.rate_limit_rpm or default_rpm)
    return principal


def node_token_hash(authorization: str | None) -> str:
    """The hash a node token is stored under, after checking the header's form (no database)."""
    token = bearer_token(authorization)
    if not token.startswith(NODE_TOKEN_PREFIX):
        raise AuthenticationError("This endpoint takes a node token (fn_…).", code="wrong_credential_kind")
    return hash_secret(token)


async def authenticate_node(ctx: ServerContext, authorization: str | None) -> uuid.UUID:
    """The id of the node whose current token this is."""
    token_hash = node_token_hash(authorization)
    async with ctx.db.pool.acquire() as conn:
        node_id = await db_nodes.node_by_token_hash(conn, token_hash)
    if node_id is None:
        raise unknown_node_token()
    return node_id
