"""Provider sign-in with a wallet (EIP-191 personal_sign): challenge → signature → a short-lived provider JWT.

The challenge is stateless (its nonce is an HMAC of wallet and time under the server secret); a signature
is exchanged for a token once, then remembered until the challenge could no longer be valid anyway.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta

import asyncpg

from farlabs_protocol import signed_by

from ..db import keys as db_keys
from ..errors import AuthenticationError
from .jwt import issue_jwt

CHALLENGE_TTL_S = 300


def _nonce(secret: str, wallet: str, issued: int) -> str:
    return hmac.new(secret.encode(), f"signin:{wallet.lower()}:{issued}".encode(), hashlib.sha256).hexdigest()[:32]


def challenge_message(wallet: str, nonce: str, issued: int) -> str:
    return f"Far Mesh dashboard sign-in\nwallet: {wallet.lower()}\nnonce: {nonce}\nissued: {issued}"


def make_challenge(secret: str, wallet: str, now: datetime) -> tuple[str, str, int]:
    """(message to sign, nonce, issued-at unix seconds)."""
    issued = int(now.timestamp())
    nonce = _nonce(secret, wallet, issued)
    return challenge_message(wallet, nonce, issued), nonce, issued


async def sign_in(conn: asyncpg.Connection, *, secret: str, wallet: str, nonce: str, issued: int, signature: str,
                  now: datetime, ttl_s: int) -> tuple[str, int]:
    """Verify the signed challenge and mint a provider token for `wallet`."""
    if not hmac.compare_digest(nonce, _nonce(secret, wallet, issued)):
        raise AuthenticationError("This challenge was not issued by this server.", code="invalid_challenge")
    if not 0 <= now.timestamp() - issued <= CHALLENGE_TTL_S:
        raise AuthenticationError("The challenge has expired; ask for a new one.", code="challenge_expired")
    if not signed_by(challenge_message(wallet, nonce, issued), signature, wallet):
        raise AuthenticationError("The signature was not made by this wallet.", code="invalid_signature",
                                  param="signature")
    fresh = await db_keys.claim_wallet_signin(
        conn, hashlib.sha256(signature.lower().encode()).hexdigest(), wallet.lower(), now=now,
        forget_before=now - timedelta(seconds=2 * CHALLENGE_TTL_S),
    )
    if not fresh:
        raise AuthenticationError("This signature was already used; sign a new challenge.", code="replayed_signature")
    return provider_token(secret, wallet, now, ttl_s)


def provider_token(secret: str, wallet: str, now: datetime, ttl_s: int) -> tuple[str, int]:
    """A JWT that may read one wallet's provider data."""
    return issue_jwt(secret, subject=f"wallet:{wallet.lower()}", scope="provider", ttl_s=ttl_s, now=now.timestamp(),
                     wallet=wallet.lower())
