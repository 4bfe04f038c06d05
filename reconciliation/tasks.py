"""Thin Celery tasks: load, call a service. Each is safe to run again at any point."""

import logging
from datetime import date

from celery import shared_task
from django.db import OperationalError

from core import context
from providers.settlement.fetch import ReportFetchFailed, ReportUnavailable

from . import selectors, services
from .errors import ReportRejected

logger = logging.getLogger(__name__)

# A provider publishes a day's report some time after midnight, and may be down: try again, with
# backoff, for about a day.
RETRY = {
    "autoretry_for": (ReportUnavailable, ReportFetchFailed, OperationalError),
    "retry_backoff": 300,
    "retry_backoff_max": 3600,
    "retry_jitter": True,
    "max_retries": 30,
}


@shared_task(**RETRY)
def reconcile_provider(provider: str, business_date: str | None = None) -> list[int]:
    """Scheduled nightly per provider (django-celery-beat): reconcile the provider's report of
    `business_date` (YYYY-MM-DD), yesterday by the database's clock unless given."""
    day = date.fromisoformat(business_date) if business_date else selectors.database_yesterday()
    with context.bound(correlation=f"reconciliation:{provider}:{day}"):
        return [run.pk for run in services.provider_day_reconcile(provider=provider, business_date=day)]


@shared_task(autoretry_for=(OperationalError,), retry_backoff=30, max_retries=10)
def reconcile_report(report_id: int) -> int | None:
    """Reconciles a report an operator uploaded."""
    with context.bound(correlation=f"reconciliation:report:{report_id}"):
        try:
            return services.report_reconcile(report_id=report_id).pk
        except ReportRejected as exc:
            # An uploaded file we refuse is an expected outcome (the operator sees why in the admin).
            logger.warning("settlement report rejected", extra={"report_id": report_id, "error": exc.detail})
            return None
