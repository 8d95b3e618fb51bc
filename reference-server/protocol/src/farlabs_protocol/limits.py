"""Limits both sides enforce, so a request the server accepts is never refused by a node for size alone."""

MAX_TOKENS = 4096  # generated tokens per request
MAX_STOP_SEQUENCES = 4
