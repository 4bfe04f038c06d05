"""The outbox relay: hands every committed DomainEvent to the event bus and to the merchant's
webhook endpoints, at least once, in sequence order per aggregate (payment, wallet, ...).

A batch is one transaction:

1. claim: lock up to `batch_size` unpublished events with FOR NO KEY UPDATE SKIP LOCKED, taking
   only the *head* of each aggregate's unpublished stream (no earlier event of the same
   aggregate is unpublished). Relays running side by side skip each other's rows, and a later
   event of a payment cannot be taken while an earlier one is unpublished or held by another
   relay: it becomes a head only once that one is published and committed.
2. fan out: one WebhookDelivery per (event, subscribed enabled endpoint), inserted with ON
   CONFLICT DO NOTHING against the unique constraint;
3. publish each event to the bus (on AMQP, each publish waits for the broker's confirm);
4. mark the events published, commit.

So the next event of a payment is published only after the previous one was confirmed and
committed. A crash after 3 rolls back 2 and 4: the events are published again by the next run
(subscribers dedupe by event id) and their deliveries are created once, by the run that commits.
Nothing is ever published for a transaction that rolled back: its events never existed.

A run repeats batches until nothing is left or `max_seconds` have passed; a broker outage ends
the run (nothing of the failed batch is kept) and the next run tries again.
"""

import logging
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef
from django.db.models.functions import Now
from django.utils import timezone
from opentelemetry.trace import SpanKind

from core import tracing
from events.models import DomainEvent

from . import metrics
from .bus import BusUnavailable, Publisher
from .models import EndpointStatus, WebhookDelivery, WebhookEndpoint

logger = logging.getLogger(__name__)


@dataclass
class RelayRun:
    published: int = 0
    deliveries: int = 0  # deliveries fanned out (some may have existed already)
    failed: bool = False


def relay_run(*, batch_size: int | None = None, max_seconds: float | None = None) -> RelayRun:
    batch_size = batch_size or settings.OUTBOX_RELAY_BATCH_SIZE
    deadline = time.monotonic() + (max_seconds if max_seconds is not None else settings.OUTBOX_RELAY_MAX_SECONDS)
    run = RelayRun()
    with Publisher() as publisher:
        while True:
            try:
                published, deliveries = _relay_batch(publisher, batch_size)
            except BusUnavailable as exc:
                logger.warning("outbox relay: event bus unavailable, will retry", extra={"error": str(exc)})
                metrics.RELAY_FAILURES.inc()
                run.failed = True
                break
            run.published += published
            run.deliveries += deliveries
            # A short batch does not mean the end: publishing a head makes its successor one.
            if not published or time.monotonic() >= deadline:
                break
    return run


def _relay_batch(publisher: Publisher, batch_size: int) -> tuple[int, int]:
    with transaction.atomic():
        events = _claim_heads(batch_size)
        if not events:
            return 0, 0
        deliveries = _fan_out(events)
        for event in events:
            with _publish_span(event):
                publisher.publish(event)
        published_at = _mark_published([event.id for event in events])
    for event in events:
        metrics.EVENTS_PUBLISHED.labels(event.type).inc()
        metrics.PUBLISH_DELAY.observe(max((published_at - event.occurred_at).total_seconds(), 0.0))
    return len(events), deliveries


def _publish_span(event: DomainEvent):
    """The publish joins the trace of the request that recorded the event (or, for an old event,
    links to it: core.tracing.follow); the message carries this span's traceparent."""
    return tracing.follow(
        f"publish {event.type}",
        event.trace_context,
        occurred_at=event.occurred_at,
        now=timezone.now(),
        kind=SpanKind.PRODUCER,
        **{
            "messaging.system": "rabbitmq",
            "messaging.operation.type": "publish",
            "messaging.destination.name": settings.EVENT_BUS_EXCHANGE,
            "messaging.message.id": event.id,
            "event.type": event.type,
            f"{event.aggregate_type}.id": event.aggregate_id,
            "merchant.id": event.merchant_id,
        },
    )


def _claim_heads(limit: int) -> list[DomainEvent]:
    earlier_unpublished = DomainEvent.objects.filter(
        aggregate_type=OuterRef("aggregate_type"),
        aggregate_id=OuterRef("aggregate_id"),
        sequence__lt=OuterRef("sequence"),
        published_at__isnull=True,
    )
    return list(
        DomainEvent.objects.filter(published_at__isnull=True)
        .filter(~Exists(earlier_unpublished))
        .order_by("id")
        .select_for_update(skip_locked=True, no_key=True)[:limit]
    )


def _fan_out(events: list[DomainEvent]) -> int:
    """Creates the deliveries of these events to their merchants' subscribed endpoints."""
    endpoints = defaultdict(list)
    for endpoint in WebhookEndpoint.objects.filter(
        merchant_id__in={event.merchant_id for event in events}, status=EndpointStatus.ENABLED
    ).only("id", "merchant_id", "event_types"):
        endpoints[endpoint.merchant_id].append(endpoint)
    deliveries = [
        WebhookDelivery(
            endpoint=endpoint,
            event=event,
            event_type=event.type,
            aggregate_type=event.aggregate_type,
            aggregate_id=event.aggregate_id,
            sequence=event.sequence,
        )
        for event in events
        for endpoint in endpoints[event.merchant_id]
        if endpoint.subscribes_to(event.type)
    ]
    # A delivery that exists already (a replay got there first) is left as it is.
    WebhookDelivery.objects.bulk_create(deliveries, ignore_conflicts=True)
    return len(deliveries)


def _mark_published(event_ids: list[str]) -> datetime:
    """Sets published_at (database clock) and returns it."""
    DomainEvent.objects.filter(pk__in=event_ids).update(published_at=Now())
    return DomainEvent.objects.filter(pk=event_ids[0]).values_list("published_at", flat=True).get()
