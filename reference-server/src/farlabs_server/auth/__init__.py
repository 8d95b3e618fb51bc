"""Who is calling: API keys (`fl_…`), JWTs, node tokens (`fn_…`), and per-key rate limits."""

from .principal import Principal, authenticate_app, authenticate_node, node_token_hash

__all__ = ["Principal", "authenticate_app", "authenticate_node", "node_token_hash"]
