"""Delivery attempts are kept for WEBHOOK_ATTEMPTS_KEPT_DAYS, then purged; deliveries stay."""

from datetime import timedelta

import pytest
from django.utils import timezone

from outbox import retention, tasks
from outbox.models import DeliveryStatus, WebhookAttempt, WebhookDelivery
from outbox.relay import relay_run
from tests.outbox.factories import WebhookEndpointFactory
from tests.outbox.helpers import record

pytestmark = pytest.mark.django_db


def _attempt(delivery: WebhookDelivery, *, days_ago: float, status_code: int = 500) -> WebhookAttempt:
    return WebhookAttempt.objects.create(
        delivery=delivery,
        attempted_at=timezone.now() - timedelta(days=days_ago),
        delivered=status_code < 300,
        status_code=status_code,
        latency_ms=12,
    )


def test_attempts_older_than_the_retention_are_purged_and_deliveries_stay(merchant, settings):
    settings.WEBHOOK_ATTEMPTS_KEPT_DAYS = 30
    WebhookEndpointFactory(merchant=merchant, url="http://127.0.0.1:9/hook")
    record(merchant)
    relay_run()
    delivery = WebhookDelivery.objects.get()
    old = [_attempt(delivery, days_ago=days) for days in (45, 31, 30.01)]
    recent = [_attempt(delivery, days_ago=days) for days in (29.9, 2)]
    recent.append(_attempt(delivery, days_ago=0, status_code=200))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.DELIVERED, attempt_count=6)

    assert tasks.purge_old_webhook_attempts() == len(old)
    assert tasks.purge_old_webhook_attempts() == 0

    assert sorted(WebhookAttempt.objects.values_list("pk", flat=True)) == sorted(a.pk for a in recent)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.DELIVERED, 6)


def test_the_purge_works_through_many_attempts_in_batches(merchant):
    WebhookEndpointFactory(merchant=merchant, url="http://127.0.0.1:9/hook")
    record(merchant)
    relay_run()
    delivery = WebhookDelivery.objects.get()
    for _ in range(7):
        _attempt(delivery, days_ago=40)
    _attempt(delivery, days_ago=1)

    assert retention.attempts_purge(batch_size=3) == 7
    assert WebhookAttempt.objects.count() == 1
