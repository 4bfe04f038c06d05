"""Prometheus metrics of reconciliation, read from the database when /metrics is scraped: the
cases operators have to resolve, and when each provider's reports were last reconciled (the
nightly task runs in a worker; its runs are rows every process can read)."""

import functools
import logging

from django.db.models import Count, Max, Sum
from django.db.models.functions import Abs
from prometheus_client.core import GaugeMetricFamily

from core.metrics import register_scrape_time_collector
from providers.registry import PROVIDER_NAMES

logger = logging.getLogger(__name__)

_CASES_HELP = "Reconciliation cases (discrepancies) open, by provider and currency"
_AMOUNT_HELP = "Amount held in suspense by the open cases, in minor units (absolute values summed)"
_LAST_RUN_HELP = "When a run of the provider's settlement report last completed (fetched nightly or uploaded)"


class ReconciliationCollector:
    def describe(self):
        yield GaugeMetricFamily("reconciliation_cases_open", _CASES_HELP, labels=["provider", "currency"])
        yield GaugeMetricFamily("reconciliation_cases_open_amount", _AMOUNT_HELP, labels=["provider", "currency"])
        yield GaugeMetricFamily(
            "reconciliation_last_completed_run_timestamp_seconds", _LAST_RUN_HELP, labels=["provider"]
        )

    def collect(self):
        from .models import CaseStatus, Discrepancy, Run, RunStatus

        try:
            # Open cases are few (the status index serves the filter); runs are one per provider,
            # day and currency: both queries stay small.
            cases = list(
                Discrepancy.objects.filter(status=CaseStatus.OPEN)
                .values("run__provider", "currency")
                .annotate(count=Count("id"), amount=Sum(Abs("amount")))
            )
            last_runs = dict(
                Run.objects.filter(status=RunStatus.COMPLETED)
                .values("provider")
                .annotate(last=Max("completed_at"))
                .values_list("provider", "last")
            )
        except Exception:  # a scrape must not fail because the database is briefly unreachable
            logger.warning("reconciliation metrics: could not read the cases and runs", exc_info=True)
            return
        count = GaugeMetricFamily("reconciliation_cases_open", _CASES_HELP, labels=["provider", "currency"])
        amount = GaugeMetricFamily("reconciliation_cases_open_amount", _AMOUNT_HELP, labels=["provider", "currency"])
        for row in cases:
            count.add_metric([row["run__provider"], row["currency"]], row["count"])
            amount.add_metric([row["run__provider"], row["currency"]], row["amount"])
        yield count
        yield amount
        # A provider never reconciled exports nothing: the alert rules catch it with absent().
        last = GaugeMetricFamily(
            "reconciliation_last_completed_run_timestamp_seconds", _LAST_RUN_HELP, labels=["provider"]
        )
        for provider in PROVIDER_NAMES:
            if last_runs.get(provider):
                last.add_metric([provider], last_runs[provider].timestamp())
        yield last


@functools.cache
def register_reconciliation_collector() -> None:
    register_scrape_time_collector(ReconciliationCollector())
