"""Prometheus metrics of inbound provider notifications."""

from prometheus_client import Counter

import core.metrics  # noqa: F401 (first: it names this process's multi-process files)

REFUSED_NOTIFICATIONS = Counter(
    "provider_notifications_refused_total",
    "Requests to /webhooks/providers/ refused (bad signature, stale, malformed, too large, unknown provider)",
    ["provider", "reason"],
)
