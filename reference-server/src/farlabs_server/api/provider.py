"""HTTP wiring of the provider API and of provider sign-in (wallet signature, or a token the node mints)."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from ..auth import wallet as wallet_auth
from ..db import nodes as db_nodes
from ..discovery.models import ADDRESS_PATTERN, SIGNATURE_PATTERN
from ..errors import InvalidRequestError, NotFound, PermissionDenied
from ..provider import service
from ..provider.models import ProviderEarnings, ProviderNodes, ProviderPayments, ProviderStats
from .endpoints import Call, Endpoint

_ADDRESS = re.compile(ADDRESS_PATTERN)


class ChallengeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wallet_address: str = Field(pattern=ADDRESS_PATTERN)


class Challenge(BaseModel):
    message: str = Field(description="Sign this with personal_sign (EIP-191).")
    nonce: str
    issued_at: int
    expires_in: int


class SignInRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    wallet_address: str = Field(pattern=ADDRESS_PATTERN)
    nonce: str = Field(pattern=r"^[0-9a-f]{32}$")
    issued_at: int = Field(ge=0)
    signature: str = Field(pattern=SIGNATURE_PATTERN)


class ProviderToken(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    expires_at: int
    wallet_address: str
    dashboard_url: str | None = None


def allowed_wallet(call: Call) -> str:
    """The path's wallet, if the caller may read it: its owner (provider token) or an admin."""
    wallet = call.path("wallet")
    if not _ADDRESS.match(wallet):
        raise InvalidRequestError("wallet must be a 0x-prefixed 40-hex-digit address.", code="validation_error",
                                  param="wallet", status=422)
    principal = call.principal
    assert principal is not None
    if principal.is_admin or (principal.role == "provider" and (principal.wallet or "").lower() == wallet.lower()):
        return wallet.lower()
    raise PermissionDenied("Only this wallet's owner or an admin may read its provider data.", code="not_your_wallet")


async def stats(call: Call) -> ProviderStats:
    wallet = allowed_wallet(call)
    async with call.ctx.db.pool.acquire() as conn:
        return await service.stats(conn, wallet, now=call.ctx.clock())


async def earnings(call: Call) -> ProviderEarnings:
    wallet = allowed_wallet(call)
    raw = call.request.query_params.get("days", "30")
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= 366:
        raise InvalidRequestError("days must be an integer from 1 to 366.", code="validation_error", param="days",
                                  status=422)
    async with call.ctx.db.pool.acquire() as conn:
        return await service.earnings(conn, wallet, now=call.ctx.clock(), days=int(raw))


async def payments(call: Call) -> ProviderPayments:
    wallet = allowed_wallet(call)
    async with call.ctx.db.pool.acquire() as conn:
        return await service.payments(conn, wallet)


async def nodes(call: Call) -> ProviderNodes:
    wallet = allowed_wallet(call)
    async with call.ctx.db.pool.acquire() as conn:
        return await service.nodes(conn, wallet, now=call.ctx.clock())


async def challenge(call: Call) -> Challenge:
    message, nonce, issued = wallet_auth.make_challenge(call.ctx.secret, call.body.wallet_address, call.ctx.clock())
    return Challenge(message=message, nonce=nonce, issued_at=issued, expires_in=wallet_auth.CHALLENGE_TTL_S)


async def sign_in(call: Call) -> ProviderToken:
    body: SignInRequest = call.body
    ttl = call.ctx.settings.jwt_ttl_s
    async with call.ctx.db.pool.acquire() as conn:
        token, expires_at = await wallet_auth.sign_in(
            conn, secret=call.ctx.secret, wallet=body.wallet_address, nonce=body.nonce, issued=body.issued_at,
            signature=body.signature, now=call.ctx.clock(), ttl_s=ttl,
        )
    return ProviderToken(access_token=token, expires_in=ttl, expires_at=expires_at, wallet_address=body.wallet_address.lower())


async def node_dashboard_token(call: Call) -> ProviderToken:
    """A node mints a sign-in for its owner's dashboard (for machines without a browser wallet)."""
    async with call.ctx.db.pool.acquire() as conn:
        wallet = await db_nodes.wallet_of(conn, call.node_id)
    if wallet is None:
        raise NotFound("Unknown node.", code="node_not_found")
    ttl = call.ctx.settings.jwt_ttl_s
    token, expires_at = wallet_auth.provider_token(call.ctx.secret, wallet, call.ctx.clock(), ttl)
    base = call.ctx.settings.public_url or str(call.request.base_url).rstrip("/")
    return ProviderToken(access_token=token, expires_in=ttl, expires_at=expires_at, wallet_address=wallet,
                         dashboard_url=f"{base}/dashboard#token={token}")


ENDPOINTS = [
    Endpoint("GET", "/provider/{wallet}/stats", stats, "A provider's totals", "provider", auth="provider",
             response_model=ProviderStats),
    Endpoint("GET", "/provider/{wallet}/earnings", earnings, "FAR per day, by node, paid vs unpaid", "provider",
             auth="provider", response_model=ProviderEarnings, query={"days": "window in days (1-366, default 30)"}),
    Endpoint("GET", "/provider/{wallet}/payments", payments, "Payment batches with transaction hashes", "provider",
             auth="provider", response_model=ProviderPayments),
    Endpoint("GET", "/provider/{wallet}/nodes", nodes, "The wallet's nodes: status, uptime, hardware, blocks",
             "provider", auth="provider", response_model=ProviderNodes),
    Endpoint("POST", "/auth/wallet/challenge", challenge, "A message for a wallet to sign (provider sign-in)", "auth",
             auth="public", request_model=ChallengeRequest, response_model=Challenge),
    Endpoint("POST", "/auth/wallet/verify", sign_in, "Exchange a signed challenge for a provider token", "auth",
             auth="public", request_model=SignInRequest, response_model=ProviderToken),
    Endpoint("POST", "/nodes/dashboard-token", node_dashboard_token, "A node mints its owner's dashboard sign-in",
             "discovery", auth="node", response_model=ProviderToken),
]
