"""Driving the relay and the dispatcher the way beat would, but on the test's own schedule."""

import itertools

from django.db.models.functions import Now

from events.models import DomainEvent
from events.services import event_record
from outbox.dispatch import deliveries_dispatch
from outbox.models import DeliveryStatus, WebhookDelivery
from outbox.relay import relay_run

_ids = itertools.count(1)


def record(merchant, *, aggregate_id: str | None = None, type: str = "payment.created", aggregate_type="payment"):  # noqa: A002
    """A domain event as any app records it (the relay knows no event type in particular)."""
    aggregate_id = aggregate_id or f"pay_T{next(_ids):06d}"
    return event_record(
        merchant_id=merchant.id,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        type=type,
        data={"object": {"id": aggregate_id, "object": aggregate_type, "status": type.rsplit(".", 1)[-1]}},
    )


def make_due() -> int:
    """What time would do: every pending delivery's next attempt comes now."""
    return WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).update(next_attempt_at=Now())


def deliver_everything(max_rounds: int = 50) -> None:
    """Relay and dispatch until nothing is left to publish or send (retries made due at once)."""
    for _ in range(max_rounds):
        published = relay_run().published
        make_due()
        sent = deliveries_dispatch()
        if not published and not sent:
            return
    raise AssertionError("events or deliveries were still left after many rounds")


def unpublished() -> int:
    return DomainEvent.objects.filter(published_at__isnull=True).count()
