"""Prometheus metrics for generation, named after vLLM's (`vllm:time_to_first_token_seconds` → `farlabs:…`)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Histogram

# vLLM's bucket edges: fine at the low end where a healthy stream lives.
_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0)
_ITL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
_E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 300.0, 600.0)


class CoordinatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.ttft = Histogram("farlabs:time_to_first_token_seconds", "Time to first token", buckets=_TTFT_BUCKETS,
                              registry=registry)
        self.itl = Histogram("farlabs:inter_token_latency_seconds", "Time between two tokens", buckets=_ITL_BUCKETS,
                             registry=registry)
        self.e2e = Histogram("farlabs:e2e_request_latency_seconds", "Request start to last token",
                             buckets=_E2E_BUCKETS, registry=registry)
        self.tokens = Counter("farlabs:generation_tokens", "Tokens generated and delivered", registry=registry)
        self.errors = Counter("farlabs:request_errors", "Failed, refused or cancelled requests by reason", ["reason"],
                              registry=registry)
