"""Prometheus metrics of the providers' resilience, rendered by `GET /metrics` with core's.

The circuit state is a gauge each process sets when it sees the state (on every call it routes
through a breaker, and on every transition it makes); with several processes the most recent
value wins. The admin page reads the shared state itself, whatever the processes last saw."""

from prometheus_client import Counter, Gauge

CIRCUIT_STATE_VALUES = {"closed": 0, "half_open": 1, "open": 2}

CIRCUIT_STATE = Gauge(
    "provider_circuit_state",
    "Circuit breaker state by provider: 0 closed, 1 half-open, 2 open",
    ["provider"],
    multiprocess_mode="mostrecent",
)
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
