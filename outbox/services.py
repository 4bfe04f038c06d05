"""Merchant webhook endpoints and redeliveries. The relay (outbox.relay) creates deliveries and
the dispatcher (outbox.dispatch) sends them; everything a merchant or an operator asks for is
here. Lock order: the merchant (when counting its endpoints), an endpoint, its deliveries."""

import base64
import logging
import re
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.db.models.functions import Now

from core.errors import ValidationFailed
from events.models import DomainEvent
from events.services import event_record

from .errors import WebhookEndpointLimitReached, WebhookEndpointNotEnabled
from .locks import lock_delivery, lock_endpoint, lock_merchant
from .models import DeliveryStatus, DisabledReason, EndpointStatus, WebhookDelivery, WebhookEndpoint
from .representations import endpoint_to_dict
from .selectors import event_get
from .targets import url_validate

SECRET_PREFIX = "whsec_"
# After a rotation the previous secret keeps signing (beside the new one) this long, so the
# merchant can deploy the new secret without missing a webhook.
SECRET_OVERLAP = timedelta(hours=24)
MAX_EVENT_TYPES = 100
MAX_REPLAY_EVENTS = 10_000
_EVENT_TYPE = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")

logger = logging.getLogger(__name__)


def secret_generate() -> str:
    """`whsec_` + base64 of 32 random bytes: the Standard Webhooks secret format."""
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


def event_types_normalize(event_types: list[str]) -> list[str]:
    """Event types as given, without repeats; `["*"]` is every type, present and future. Types
    are checked for their shape only: the set of types grows with the domain."""
    unique = list(dict.fromkeys(event_types))
    if not unique:
        raise _event_types_error('Give at least one event type, or ["*"] for all.')
    if len(unique) > MAX_EVENT_TYPES:
        raise _event_types_error(f"At most {MAX_EVENT_TYPES} event types.")
    if "*" in unique:
        if len(unique) > 1:
            raise _event_types_error('"*" already means every type: send it alone.')
        return unique
    for event_type in unique:
        if len(event_type) > 64 or not _EVENT_TYPE.fullmatch(event_type):
            raise _event_types_error(f"{event_type[:64]!r} is not an event type (like 'payment.captured').")
    return unique


def _event_types_error(detail: str) -> ValidationFailed:
    return ValidationFailed(detail, errors=[{"field": "event_types", "code": "invalid", "detail": detail}])


# --- endpoints ----------------------------------------------------------------------------------
def endpoint_create(*, merchant_id: str, url: str, event_types: list[str]) -> tuple[WebhookEndpoint, str]:
    """Registers an endpoint; returns it and its secret, which is never shown again."""
    url_validate(url)  # may resolve the host: before the transaction
    event_types = event_types_normalize(event_types)
    with transaction.atomic():
        lock_merchant(merchant_id=merchant_id)  # serialises the count below
        if WebhookEndpoint.objects.filter(merchant_id=merchant_id).exclude(status=EndpointStatus.DELETED).count() >= (
            settings.WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT
        ):
            raise WebhookEndpointLimitReached(
                f"A merchant has at most {settings.WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT} webhook endpoints: "
                "delete one first."
            )
        secret = secret_generate()
        endpoint = WebhookEndpoint.objects.create(
            merchant_id=merchant_id, url=url, event_types=event_types, secret=secret
        )
    return endpoint, secret


@transaction.atomic
def endpoint_delete(*, merchant_id: str, endpoint_id: str) -> WebhookEndpoint:
    """Nothing is sent to it any more. The row stays, hidden, with its deliveries and attempts."""
    endpoint = lock_endpoint(endpoint_id=endpoint_id, merchant_id=merchant_id)
    endpoint.status = EndpointStatus.DELETED
    endpoint.disabled_reason = ""
    endpoint.secret = endpoint.previous_secret = ""
    endpoint.previous_secret_expires_at = None
    endpoint.updated_at = endpoint.db_now
    endpoint.save()
    return endpoint


@transaction.atomic
def endpoint_rotate_secret(*, merchant_id: str, endpoint_id: str) -> tuple[WebhookEndpoint, str]:
    """A new secret; the current one keeps signing beside it for SECRET_OVERLAP. Rotating again
    within the overlap drops the oldest: at most two secrets sign at any time."""
    endpoint = lock_endpoint(endpoint_id=endpoint_id, merchant_id=merchant_id)
    secret = secret_generate()
    endpoint.previous_secret = endpoint.secret
    endpoint.previous_secret_expires_at = endpoint.db_now + SECRET_OVERLAP
    endpoint.secret = secret
    endpoint.updated_at = endpoint.db_now
    endpoint.save()
    return endpoint, secret


def endpoint_disable_locked(*, endpoint: WebhookEndpoint, reason: str) -> None:
    """For callers that hold the endpoint's lock (and its `db_now`). Tells the merchant by the
    `webhook_endpoint.disabled` event, which the merchant's other endpoints receive."""
    endpoint.status = EndpointStatus.DISABLED
    endpoint.disabled_reason = reason
    endpoint.updated_at = endpoint.db_now
    endpoint.save(update_fields=["status", "disabled_reason", "updated_at"])
    _endpoint_event(endpoint, "webhook_endpoint.disabled")
    logger.warning("webhook endpoint disabled", extra={"endpoint_id": endpoint.id, "reason": reason})


@transaction.atomic
def endpoint_disable(*, endpoint_id: str) -> bool:
    """An operator stops all sending to an endpoint. False if it was not enabled."""
    endpoint = lock_endpoint(endpoint_id=endpoint_id)
    if endpoint.status != EndpointStatus.ENABLED:
        return False
    endpoint_disable_locked(endpoint=endpoint, reason=DisabledReason.OPERATOR)
    return True


@transaction.atomic
def endpoint_enable(*, endpoint_id: str) -> bool:
    """An operator turns a disabled endpoint back on; its pending deliveries go out again, in
    order. False if it was not disabled."""
    endpoint = lock_endpoint(endpoint_id=endpoint_id)
    if endpoint.status != EndpointStatus.DISABLED:
        return False
    endpoint.status = EndpointStatus.ENABLED
    endpoint.disabled_reason = ""
    endpoint.failing_since = None
    endpoint.updated_at = endpoint.db_now
    endpoint.save(update_fields=["status", "disabled_reason", "failing_since", "updated_at"])
    _endpoint_event(endpoint, "webhook_endpoint.enabled")
    return True


def _endpoint_event(endpoint: WebhookEndpoint, event_type: str) -> None:
    event_record(
        merchant_id=endpoint.merchant_id,
        aggregate_type="webhook_endpoint",
        aggregate_id=endpoint.id,
        type=event_type,
        data={"object": endpoint_to_dict(endpoint)},
    )


# --- redelivery ---------------------------------------------------------------------------------
def event_redeliver(*, merchant_id: str, event_id: str, endpoint_id: str) -> WebhookDelivery:
    """Sends an event (of the last 30 days) to an enabled endpoint of the merchant again, now,
    whether or not it was delivered before, or for the first time if it never was."""
    event = event_get(merchant_id=merchant_id, event_id=event_id)
    with transaction.atomic():
        endpoint = lock_endpoint(endpoint_id=endpoint_id, merchant_id=merchant_id)
        _require_enabled(endpoint)
        delivery, created = WebhookDelivery.objects.get_or_create(
            event=event,
            endpoint=endpoint,
            defaults={
                "event_type": event.type,
                "aggregate_type": event.aggregate_type,
                "aggregate_id": event.aggregate_id,
                "sequence": event.sequence,
            },
        )
        if not created:
            _rearm(WebhookDelivery.objects.filter(pk=delivery.pk))
        delivery.refresh_from_db()
    return delivery


@transaction.atomic
def delivery_retry(*, delivery_id: str) -> WebhookDelivery:
    """An operator sends one delivery again, now."""
    endpoint_id = WebhookDelivery.objects.values_list("endpoint_id", flat=True).get(pk=delivery_id)
    _require_enabled(lock_endpoint(endpoint_id=endpoint_id))
    delivery = lock_delivery(delivery_id=delivery_id)
    _rearm(WebhookDelivery.objects.filter(pk=delivery.pk))
    delivery.refresh_from_db()
    return delivery


@transaction.atomic
def endpoint_replay(*, endpoint_id: str, since: datetime, until: datetime) -> int:
    """An operator sends an endpoint every published event of its merchant, of the types it
    subscribes to, that occurred in [since, until), again. Returns how many. Events not
    published yet are left to the relay, which delivers them in order."""
    if since >= until:
        raise ValidationFailed("The start of the range must come before its end.")
    endpoint = lock_endpoint(endpoint_id=endpoint_id)
    _require_enabled(endpoint)
    events = DomainEvent.objects.filter(
        merchant_id=endpoint.merchant_id, occurred_at__gte=since, occurred_at__lt=until, published_at__isnull=False
    )
    if "*" not in endpoint.event_types:
        events = events.filter(type__in=endpoint.event_types)
    count = events.count()
    if count > MAX_REPLAY_EVENTS:
        raise ValidationFailed(f"{count} events are in this range; replay at most {MAX_REPLAY_EVENTS} at a time.")
    _rearm(WebhookDelivery.objects.filter(endpoint=endpoint, event__in=events))
    WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(
                endpoint=endpoint,
                event_id=event.id,
                event_type=event.type,
                aggregate_type=event.aggregate_type,
                aggregate_id=event.aggregate_id,
                sequence=event.sequence,
            )
            for event in events.exclude(
                pk__in=WebhookDelivery.objects.filter(endpoint=endpoint).values("event_id")
            ).only("id", "type", "aggregate_type", "aggregate_id", "sequence")
        ],
        ignore_conflicts=True,
    )
    return count


def _require_enabled(endpoint: WebhookEndpoint) -> None:
    if endpoint.status != EndpointStatus.ENABLED:
        raise WebhookEndpointNotEnabled(f"Webhook endpoint {endpoint.id} is {endpoint.status}: nothing is sent to it.")


def _rearm(deliveries: QuerySet[WebhookDelivery]) -> None:
    """Due now, with a fresh retry window. A lease held by a dispatcher sending it right now is
    dropped, so that dispatcher records its attempt but does not decide the new one's fate."""
    deliveries.update(
        status=DeliveryStatus.PENDING,
        next_attempt_at=Now(),
        first_attempt_at=None,
        lease_token=None,
        lease_expires_at=None,
        updated_at=Now(),
    )
