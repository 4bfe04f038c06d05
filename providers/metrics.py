"""Prometheus metrics of the providers' resilience, rendered by `GET /metrics` with core's.

The circuit state is read from the breakers' shared store (Redis) when /metrics is scraped, so
every process exports what the breakers are, not what it last saw. Without REDIS_URL each process
has its own breakers, and the web's /metrics shows the web's."""

import functools
import logging
from collections.abc import Callable, Sequence
from typing import Any

from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from core.metrics import register_scrape_time_collector

logger = logging.getLogger(__name__)

CIRCUIT_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}
CIRCUIT_STATE_HELP = "Circuit breaker state by provider: 0 closed, 1 half-open, 2 open"

CIRCUIT_OPENS = Counter(
    "provider_circuit_opens_total",
    "Times a provider's circuit opened: tripped by failures, or opened again by a failed trial call",
    ["provider"],
)
CIRCUIT_REJECTED_CALLS = Counter(
    "provider_circuit_rejected_calls_total",
    "Calls not made because the provider's circuit was open",
    ["provider", "operation"],
)
PROVIDER_RETRIES = Counter(
    "provider_call_retries_total",
    "Provider calls repeated after a failure (status queries, and calls that never reached the provider)",
    ["provider", "operation"],
)


class CircuitStateCollector:
    """The providers and the breaker of each are given (by the app's ready()): the breakers count
    into this module's metrics, so it imports neither them nor the registry."""

    def __init__(self, providers: Sequence[str], breaker: Callable[[str], Any]) -> None:
        self.providers, self.breaker = providers, breaker

    def describe(self):
        yield GaugeMetricFamily("provider_circuit_state", CIRCUIT_STATE_HELP, labels=["provider"])

    def collect(self):
        family = GaugeMetricFamily("provider_circuit_state", CIRCUIT_STATE_HELP, labels=["provider"])
        for provider in self.providers:
            try:
                state = self.breaker(provider).snapshot().state
            except Exception:  # Redis down: no sample (the breakers fail open; the scrape goes on)
                logger.warning("circuit metrics: could not read the breaker", extra={"provider": provider})
                continue
            family.add_metric([provider], CIRCUIT_STATE_VALUES[state])
        yield family


@functools.cache
def register_circuit_collector(providers: Sequence[str], breaker: Callable[[str], Any]) -> None:
    register_scrape_time_collector(CircuitStateCollector(providers, breaker))
