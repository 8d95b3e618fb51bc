"""Prometheus metrics for generation, named after vLLM's (`vllm:time_to_first_token_seconds` → `farlabs:…`).

Histograms are what Prometheus aggregates across replicas; the `…_p50/_p95/_p99` gauges read the last
1,024 samples of this replica directly, so a person looking at /metrics sees the tail without a query.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

# vLLM's bucket edges: fine at the low end where a healthy stream lives.
_TTFT_BUCKETS = (0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0, 20.0, 40.0)
_ITL_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5, 0.75, 1.0, 2.5, 5.0, 10.0)
_E2E_BUCKETS = (0.3, 0.5, 0.8, 1.0, 1.5, 2.0, 2.5, 5.0, 10.0, 15.0, 20.0, 30.0, 40.0, 50.0, 60.0, 120.0, 300.0, 600.0)


class LatencyMetric:
    """A histogram plus a window of recent samples for exact recent percentiles."""

    def __init__(self, name: str, doc: str, buckets: tuple[float, ...], registry: CollectorRegistry) -> None:
        self.name = name
        self.histogram = Histogram(name, doc, buckets=buckets, registry=registry)
        self.recent: deque[float] = deque(maxlen=1024)

    def observe(self, seconds: float) -> None:
        self.histogram.observe(seconds)
        self.recent.append(seconds)

    def percentile(self, q: float) -> float | None:
        if not self.recent:
            return None
        ordered = sorted(self.recent)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class _RecentPercentiles(Collector):
    def __init__(self, metrics: list[LatencyMetric]) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[GaugeMetricFamily]:
        for metric in self.metrics:
            for label, q in (("p50", 0.50), ("p95", 0.95), ("p99", 0.99)):
                value = metric.percentile(q)
                if value is not None:
                    yield GaugeMetricFamily(f"{metric.name}_{label}", f"{label} of the last 1024 samples", value=value)


class CoordinatorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.ttft = LatencyMetric("farlabs:time_to_first_token_seconds", "Time to first token", _TTFT_BUCKETS, registry)
        self.itl = LatencyMetric("farlabs:inter_token_latency_seconds", "Time between two tokens", _ITL_BUCKETS, registry)
        self.e2e = LatencyMetric("farlabs:e2e_request_latency_seconds", "Request start to last token", _E2E_BUCKETS,
                                 registry)
        registry.register(_RecentPercentiles([self.ttft, self.itl, self.e2e]))
        self.tokens = Counter("farlabs:generation_tokens", "Tokens generated and delivered", registry=registry)
        self.errors = Counter("farlabs:request_errors", "Failed, refused or cancelled requests by reason", ["reason"],
                              registry=registry)
