"""Prometheus metrics of the relay and the webhooks.

Backlog and lag are read from the database when /metrics is scraped, not reported by the relay:
a relay that has stopped would otherwise leave the last value it reported, and a stuck outbox
would look healthy."""

import functools
import logging

from django.db.models import Count
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from core.metrics import register_scrape_time_collector

logger = logging.getLogger(__name__)

EVENTS_PUBLISHED = Counter("outbox_events_published_total", "Domain events published by the relay", ["type"])
PUBLISH_DELAY = Histogram(
    "outbox_publish_delay_seconds",
    "From an event's commit to its publication by the relay",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 30, 60, 300, 900, 3600),
)
RELAY_FAILURES = Counter("outbox_relay_failures_total", "Relay runs cut short because the event bus was unavailable")
WEBHOOK_ATTEMPTS = Counter("webhook_attempts_total", "Webhook delivery attempts by outcome", ["outcome"])
WEBHOOK_LATENCY = Histogram(
    "webhook_attempt_seconds",
    "Duration of webhook delivery attempts",
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15),
)


class BacklogCollector:
    def describe(self):
        # What registration asks for, so that it never reads the database.
        yield GaugeMetricFamily("outbox_backlog_events", "Domain events not yet published")
        yield GaugeMetricFamily("outbox_lag_seconds", "Age of the oldest unpublished domain event")
        yield GaugeMetricFamily("webhook_deliveries_pending", "Webhook deliveries waiting to be sent")
        yield GaugeMetricFamily("webhook_deliveries_failing", _FAILING_HELP, labels=["state"])
        yield GaugeMetricFamily("webhook_endpoints_disabled", _DISABLED_HELP, labels=["reason"])

    def collect(self):
        from .selectors import relay_status

        try:
            status = relay_status()
        except Exception:  # a scrape must not fail because the database is briefly unreachable
            logger.warning("outbox metrics: could not read the relay status", exc_info=True)
            return
        yield GaugeMetricFamily("outbox_backlog_events", "Domain events not yet published", value=status.backlog)
        yield GaugeMetricFamily(
            "outbox_lag_seconds", "Age of the oldest unpublished domain event", value=status.lag_seconds
        )
        yield GaugeMetricFamily(
            "webhook_deliveries_pending", "Webhook deliveries waiting to be sent", value=status.pending_deliveries
        )
        try:
            health = list(_delivery_health())
        except Exception:
            logger.warning("outbox metrics: could not read the deliveries' health", exc_info=True)
            return
        yield from health


_FAILING_HELP = "Webhook deliveries failing: retrying (pending after a failed attempt) or failed (given up)"
_DISABLED_HELP = "Merchant webhook endpoints disabled, by reason (gone: answered 410; failing: 5 days of failures)"


def _delivery_health():
    from .models import DeliveryStatus, DisabledReason, EndpointStatus, WebhookDelivery, WebhookEndpoint

    # Both counts read partial indexes (pending rows; failed rows), never the whole table.
    retrying = WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING, attempt_count__gt=0).count()
    failed = WebhookDelivery.objects.filter(status=DeliveryStatus.FAILED).count()
    failing = GaugeMetricFamily("webhook_deliveries_failing", _FAILING_HELP, labels=["state"])
    failing.add_metric(["retrying"], retrying)
    failing.add_metric(["failed"], failed)
    yield failing
    disabled = dict(
        WebhookEndpoint.objects.filter(status=EndpointStatus.DISABLED)
        .values("disabled_reason")
        .annotate(count=Count("id"))
        .values_list("disabled_reason", "count")
    )
    family = GaugeMetricFamily("webhook_endpoints_disabled", _DISABLED_HELP, labels=["reason"])
    for reason in DisabledReason.values:
        family.add_metric([reason], disabled.get(reason, 0))
    yield family


@functools.cache
def register_backlog_collector() -> None:
    register_scrape_time_collector(BacklogCollector())
