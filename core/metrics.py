"""Prometheus metrics. With several worker processes (gunicorn), set PROMETHEUS_MULTIPROC_DIR
so every process writes its samples there and /metrics aggregates them."""

import os

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client import REGISTRY as DEFAULT_REGISTRY

PAYMENT_OPERATIONS = Counter(
    "payments_operations_total", "Payment operations by kind and result", ["operation", "result"]
)
PROVIDER_CALLS = Histogram(
    "provider_call_seconds",
    "Latency of calls to payment providers",
    ["provider", "operation", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
RATE_LIMITED_REQUESTS = Counter(
    "rate_limited_requests_total", "Requests refused with 429 by the rate limiter", ["scope"]
)
RATE_LIMITER_FAIL_OPEN = Counter(
    "rate_limiter_fail_open_total", "Requests let through unlimited because the rate limiter's cache failed", ["scope"]
)


# Collectors that read their figures at scrape time (from the database, say) rather than from
# process-local counters: they are added to the multi-process registry too.
_SCRAPE_TIME_COLLECTORS: list = []


def register_scrape_time_collector(collector) -> None:
    DEFAULT_REGISTRY.register(collector)
    _SCRAPE_TIME_COLLECTORS.append(collector)


def render_metrics() -> tuple[bytes, str]:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        for collector in _SCRAPE_TIME_COLLECTORS:
            registry.register(collector)
    else:
        registry = DEFAULT_REGISTRY
    return generate_latest(registry), CONTENT_TYPE_LATEST
