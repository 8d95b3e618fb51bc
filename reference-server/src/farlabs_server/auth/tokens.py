"""Making and hashing bearer secrets. Only hashes are stored; a secret is shown once, when it is made."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets as _secrets

API_KEY_PREFIX = "fl_"
NODE_TOKEN_PREFIX = "fn_"
GATEWAY_TOKEN_PREFIX = "gw_"


def new_secret(prefix: str) -> str:
    """A fresh bearer secret: the prefix and 32 random bytes in URL-safe base64."""
    return prefix + _secrets.token_urlsafe(32)


def hash_secret(secret: str) -> str:
    """SHA-256 hex digest. The secrets are 256-bit random, so a fast hash is enough (no dictionary to guess from)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def display_prefix(api_key: str) -> str:
    """The part of a key safe to show in lists: `fl_` and the next 8 characters."""
    return api_key[:11]


def derive_token(server_secret: str, purpose: str, subject: str) -> str:
    """A token the server can recompute instead of storing (HMAC of subject under the server secret)."""
    mac = hmac.new(server_secret.encode(), f"{purpose}:{subject}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")
