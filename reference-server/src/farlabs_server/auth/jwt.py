"""Short-lived JWTs (HS256) for browsers and for provider sign-in, signed with the server secret."""

from __future__ import annotations

import time
from typing import Any, Literal

import jwt

from ..errors import AuthenticationError

Scope = Literal["app", "admin", "provider"]
_ALGORITHM = "HS256"
_ISSUER = "farlabs-server"


def issue_jwt(secret: str, *, subject: str, scope: Scope, ttl_s: int, now: float | None = None,
              **claims: Any) -> tuple[str, int]:
    """A signed token and its expiry (unix seconds)."""
    issued = int(now if now is not None else time.time())
    expires = issued + ttl_s
    payload = {"iss": _ISSUER, "sub": subject, "scope": scope, "iat": issued, "exp": expires, **claims}
    return jwt.encode(payload, secret, algorithm=_ALGORITHM), expires


def verify_jwt(secret: str, token: str, *, now: float | None = None) -> dict[str, Any]:
    """The claims of a valid token; AuthenticationError for anything else (expired, forged, malformed)."""
    try:
        # Expiry is checked below against `now`, so tests can inject a clock.
        claims: dict[str, Any] = jwt.decode(
            token, secret, algorithms=[_ALGORITHM], issuer=_ISSUER,
            options={"require": ["exp", "iat", "sub", "scope"], "verify_exp": False},
        )
    except jwt.PyJWTError:
        raise AuthenticationError("The token is not valid.", code="invalid_token") from None
    if not isinstance(claims["exp"], int) or claims["exp"] <= (now if now is not None else time.time()):
        raise AuthenticationError("The token has expired.", code="token_expired")
    if claims["scope"] not in ("app", "admin", "provider"):
        raise AuthenticationError("The token has an unknown scope.", code="invalid_token")
    return claims
