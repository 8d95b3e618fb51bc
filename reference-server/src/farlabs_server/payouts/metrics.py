"""Prometheus metrics of the payout tracker, registered on the app's registry.

Prometheus samples are floats, so `farlabs:payouts_far_paid_total` is for dashboards and alerts; the
exact amounts are in the database (`far_payment_batches.total_wei`).
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

BATCH_STATUSES = ("planned", "signed", "broadcast", "confirmed", "failed", "abandoned")
FAILURE_REASONS = ("simulation", "reverted", "broadcast", "confirmation_timeout", "chain", "run")


class PayoutMetrics:
    """Amounts paid, batches by status, failures by reason, runs by result."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.far_paid = Counter("farlabs:payouts_far_paid", "FAR paid to providers in confirmed batches.",
                                registry=registry)
        self.providers_paid = Counter("farlabs:payouts_recipients_paid", "Wallet payments confirmed on chain.",
                                      registry=registry)
        self.batches = Gauge("farlabs:payouts_batches", "Payment batches in the database, by status.", ["status"],
                             registry=registry)
        self.failures = Counter("farlabs:payouts_failures", "Payout failures, by reason.", ["reason"],
                                registry=registry)
        self.runs = Counter("farlabs:payouts_runs", "Payout runs, by result.", ["result"], registry=registry)
        self.last_success = Gauge("farlabs:payouts_last_success_timestamp_seconds",
                                  "When a payout run last finished with every batch confirmed.", registry=registry)
        for status in BATCH_STATUSES:
            self.batches.labels(status).set(0)
        for reason in FAILURE_REASONS:
            self.failures.labels(reason)
        for result in ("completed", "failed", "busy"):
            self.runs.labels(result)

    def set_batch_counts(self, counts: dict[str, int]) -> None:
        for status in BATCH_STATUSES:
            self.batches.labels(status).set(counts.get(status, 0))
