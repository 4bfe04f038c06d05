"""Prometheus metrics. With several worker processes (gunicorn), set PROMETHEUS_MULTIPROC_DIR
so every process writes its samples there and /metrics aggregates them.

Every module that defines metrics imports this one first, so that the process identifier below is
in place before any metric (and its file) is created."""

import os
import socket

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
    values,
)
from prometheus_client import REGISTRY as DEFAULT_REGISTRY


def process_identifier() -> str:
    """Names this process's files in PROMETHEUS_MULTIPROC_DIR. The pid alone is not unique when
    containers (each with its own pid 1, 7, ...) share the directory: the hostname is prefixed.
    No underscore: prometheus_client splits the file names on it."""
    return f"{socket.gethostname().replace('_', '-')}-{os.getpid()}"


if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
    values.ValueClass = values.MultiProcessValue(process_identifier)

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
