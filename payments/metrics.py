"""Prometheus metrics of payments: what merchants notice (approvals, declines, operations whose
outcome we do not know yet), rendered by `GET /metrics` with core's.

Approval rate by provider (PromQL; deploy/grafana/dashboards/payments.json plots it):

    sum by (provider) (rate(payments_authorizations_total{outcome="approved"}[15m]))
      / sum by (provider) (rate(payments_authorizations_total{outcome=~"approved|declined"}[15m]))
"""

import functools
import logging

from django.db.models import Count, Min
from django.db.models.functions import Now
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from core.metrics import register_scrape_time_collector
from providers.port import Outcome
from providers.registry import PROVIDER_NAMES

from .models import OPEN_OPERATION_STATUSES, OperationKind, OperationStatus, ProviderOperation

logger = logging.getLogger(__name__)

# outcome: approved; declined (the provider refused); unavailable (no provider received it: circuit
# open, connection refused; a fallback attempt counts here for the provider that was skipped).
AUTHORIZATIONS = Counter(
    "payments_authorizations_total", "Authorizations decided, by provider and outcome", ["provider", "outcome"]
)
CAPTURES = Counter("payments_captures_total", "Captures decided, by provider and outcome", ["provider", "outcome"])
_COUNTERS = {OperationKind.AUTHORIZE: AUTHORIZATIONS, OperationKind.CAPTURE: CAPTURES}


def count_decided(*, kind: str, provider: str, status: str, outcome: str, reached_provider: bool) -> None:
    """An authorization or capture closed with `status` on the provider's answer `outcome`."""
    counter = _COUNTERS.get(kind)
    if counter is None:
        return
    if status == OperationStatus.SUCCEEDED:
        label = "approved"
    elif outcome == Outcome.NOT_FOUND or not reached_provider:
        label = "unavailable"
    else:
        label = "declined"
    counter.labels(provider, label).inc()


_OPEN_HELP = (
    "Provider operations whose outcome is not known yet"
    " (pending: in flight or awaiting a notification; unknown: being polled)"
)
_OLDEST_HELP = "Age of the oldest open provider operation, by the database clock (0 when none)"


class OpenOperationsCollector:
    """Open operations (unknown outcomes) per provider and status: the partial index
    `operation_open_idx` holds exactly these rows, so the query reads only them."""

    def describe(self):
        yield GaugeMetricFamily("payments_open_provider_operations", _OPEN_HELP, labels=["provider", "status"])
        yield GaugeMetricFamily(
            "payments_open_provider_operation_oldest_age_seconds", _OLDEST_HELP, labels=["provider", "status"]
        )

    def collect(self):
        try:
            rows = list(
                ProviderOperation.objects.filter(status__in=OPEN_OPERATION_STATUSES)
                .values("provider", "status")
                .annotate(count=Count("id"), oldest=Min("created_at"), db_now=Now())
            )
        except Exception:  # a scrape must not fail because the database is briefly unreachable
            logger.warning("payments metrics: could not read the open operations", exc_info=True)
            return
        found = {(row["provider"], row["status"]): row for row in rows}
        count = GaugeMetricFamily("payments_open_provider_operations", _OPEN_HELP, labels=["provider", "status"])
        oldest = GaugeMetricFamily(
            "payments_open_provider_operation_oldest_age_seconds", _OLDEST_HELP, labels=["provider", "status"]
        )
        # Every provider and status, zero when none: an alert can tell "none" from "not exported".
        for provider in sorted({*PROVIDER_NAMES, *(provider for provider, _ in found)}):
            for status in OPEN_OPERATION_STATUSES:
                row = found.get((provider, status))
                count.add_metric([provider, status], row["count"] if row else 0)
                age = max((row["db_now"] - row["oldest"]).total_seconds(), 0.0) if row else 0.0
                oldest.add_metric([provider, status], age)
        yield count
        yield oldest


@functools.cache
def register_open_operations_collector() -> None:
    register_scrape_time_collector(OpenOperationsCollector())
