"""Every default of the SDK, in one place."""

from __future__ import annotations

ENV_API_KEY = "FARLABS_API_KEY"
ENV_BASE_URL = "FARLABS_BASE_URL"

# The reference server's coordinator port (the plan's port 8100), bound to loopback by default.
DEFAULT_BASE_URL = "http://127.0.0.1:8100"

# Timeouts, in seconds.
DEFAULT_CONNECT_TIMEOUT_S = 10.0
# Silence allowed between two events of a stream (or two reads of a body). A swarm that is
# loading a model can be slow to the first token, so this is generous.
DEFAULT_IDLE_TIMEOUT_S = 60.0
# Overall deadline for one call, across every retry.
DEFAULT_TOTAL_TIMEOUT_S = 600.0

# Retries: jittered exponential backoff.
DEFAULT_MAX_RETRIES = 2
INITIAL_RETRY_DELAY_S = 0.5
MAX_RETRY_DELAY_S = 8.0
# A server asking us to wait longer than this is not waited for: the error is raised instead.
MAX_RETRY_AFTER_S = 60.0

# 408 request timeout, 409 same idempotency key still in flight, 429 rate limited, 5xx.
RETRYABLE_STATUS_CODES = frozenset({408, 409, 429, 500, 502, 503, 504})
# Error `type`s from the envelope that are worth another attempt (also inside a stream,
# as long as no token has arrived).
RETRYABLE_ERROR_TYPES = frozenset(
    {"conflict_error", "rate_limit_error", "api_error", "overloaded_error", "timeout_error"}
)

GENERATE_PATH = "/mesh/inference/generate"
MODELS_PATH = "/v1/models"
PROVIDER_PATH = "/provider/{wallet}/{what}"

REQUEST_ID_HEADER = "X-Request-ID"
IDEMPOTENCY_KEY_HEADER = "Idempotency-Key"
