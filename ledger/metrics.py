"""Prometheus metrics of the ledger's verification. It runs in a worker (nightly) or in a shell
(`manage.py ledger_verify`); its result is a row (VerificationRun), read when /metrics is scraped."""

import functools
import logging

from prometheus_client.core import GaugeMetricFamily

from core.metrics import register_scrape_time_collector

logger = logging.getLogger(__name__)

_METRICS = {
    "ledger_verify_last_run_timestamp_seconds": "When the ledger's verification last finished",
    "ledger_verify_last_run_ok": "Whether the last verification found the books right (1) or found problems (0)",
    "ledger_verify_last_run_problems": "Problems the last verification found",
    "ledger_verify_last_success_timestamp_seconds": "When a verification last found no problem",
}


class VerificationCollector:
    def describe(self):
        for name, documentation in _METRICS.items():
            yield GaugeMetricFamily(name, documentation)

    def collect(self):
        from .models import VerificationRun

        try:
            last = VerificationRun.objects.order_by("-id").first()
            last_ok = VerificationRun.objects.filter(ok=True).order_by("-id").values_list("finished_at", flat=True)
            last_success = last_ok.first()
        except Exception:  # a scrape must not fail because the database is briefly unreachable
            logger.warning("ledger metrics: could not read the verification runs", exc_info=True)
            return
        # Never run: nothing exported, and the alert rules' absent() says so.
        if last is None:
            return
        values = {
            "ledger_verify_last_run_timestamp_seconds": last.finished_at.timestamp(),
            "ledger_verify_last_run_ok": 1 if last.ok else 0,
            "ledger_verify_last_run_problems": last.problem_count,
        }
        if last_success is not None:
            values["ledger_verify_last_success_timestamp_seconds"] = last_success.timestamp()
        for name, value in values.items():
            yield GaugeMetricFamily(name, _METRICS[name], value=value)


@functools.cache
def register_verification_collector() -> None:
    register_scrape_time_collector(VerificationCollector())
