from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import QuerySet
from django.db.models.functions import Now

from events.models import DomainEvent
from events.selectors import events_of_merchant

from .errors import EventNotFound, WebhookEndpointNotFound
from .models import DeliveryStatus, EndpointStatus, WebhookDelivery, WebhookEndpoint

# GET /events shows a merchant's events of the last 30 days (the rows themselves are kept).
EVENT_RETENTION = timedelta(days=30)


def endpoint_list(*, merchant_id: str) -> QuerySet[WebhookEndpoint]:
    return WebhookEndpoint.objects.filter(merchant_id=merchant_id).exclude(status=EndpointStatus.DELETED)


def endpoint_get(*, merchant_id: str, endpoint_id: str) -> WebhookEndpoint:
    endpoint = endpoint_list(merchant_id=merchant_id).filter(pk=endpoint_id).first()
    if endpoint is None:
        raise WebhookEndpointNotFound(f"No such webhook endpoint: {endpoint_id}")
    return endpoint


def event_list(*, merchant_id: str, type: str | None = None) -> QuerySet[DomainEvent]:  # noqa: A002
    events = events_of_merchant(merchant_id=merchant_id).filter(occurred_at__gte=Now() - EVENT_RETENTION)
    if type is not None:
        events = events.filter(type=type)
    return events


def event_get(*, merchant_id: str, event_id: str) -> DomainEvent:
    event = event_list(merchant_id=merchant_id).filter(pk=event_id).first()
    if event is None:
        raise EventNotFound(f"No such event: {event_id}")
    return event


@dataclass(frozen=True)
class RelayStatus:
    backlog: int  # events not published yet
    lag_seconds: float  # how long the oldest of them has waited, by the database clock
    oldest_unpublished_at: datetime | None
    pending_deliveries: int


def relay_status() -> RelayStatus:
    unpublished = DomainEvent.objects.filter(published_at__isnull=True)
    # Oldest by id: the partial index on unpublished ids serves it, and ids follow time.
    oldest = unpublished.order_by("id").annotate(db_now=Now()).values("occurred_at", "db_now").first()
    lag = (oldest["db_now"] - oldest["occurred_at"]).total_seconds() if oldest else 0.0
    return RelayStatus(
        backlog=unpublished.count(),
        lag_seconds=max(lag, 0.0),
        oldest_unpublished_at=oldest["occurred_at"] if oldest else None,
        pending_deliveries=WebhookDelivery.objects.filter(status=DeliveryStatus.PENDING).count(),
    )
