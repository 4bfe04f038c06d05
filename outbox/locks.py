"""Named lock helpers. Lock order, always: the merchant (only to count its endpoints), a webhook
endpoint, then its deliveries. The relay
locks domain events (FOR NO KEY UPDATE, so inserting a delivery that references a claimed event
never waits for it) and takes no other lock; the dispatcher's claim skips locked deliveries and
never waits either. Each lock also reads the database clock (`db_now`) for the time rules."""

from django.db.models.functions import Now

from merchants.models import Merchant

from .errors import WebhookEndpointNotFound
from .models import EndpointStatus, WebhookDelivery, WebhookEndpoint


def lock_endpoint(*, endpoint_id: str, merchant_id: str | None = None) -> WebhookEndpoint:
    """The endpoint, unless deleted (a deleted endpoint is a 404 to everyone)."""
    queryset = WebhookEndpoint.objects.select_for_update().annotate(db_now=Now()).exclude(status=EndpointStatus.DELETED)
    if merchant_id is not None:
        queryset = queryset.filter(merchant_id=merchant_id)
    endpoint = queryset.filter(pk=endpoint_id).first()
    if endpoint is None:
        raise WebhookEndpointNotFound(f"No such webhook endpoint: {endpoint_id}")
    return endpoint


def lock_endpoint_any_status(*, endpoint_id: str) -> WebhookEndpoint:
    return WebhookEndpoint.objects.select_for_update().annotate(db_now=Now()).get(pk=endpoint_id)


def lock_delivery(*, delivery_id: str) -> WebhookDelivery:
    return WebhookDelivery.objects.select_for_update().annotate(db_now=Now()).get(pk=delivery_id)


def lock_merchant(*, merchant_id: str) -> None:
    """Serialises changes to a merchant's set of endpoints (the limit on how many it has)."""
    list(Merchant.objects.select_for_update().filter(pk=merchant_id).values_list("pk", flat=True))
