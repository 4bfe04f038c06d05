"""The public shapes (API.md): events as GET /events and every webhook body show them, endpoints
and deliveries. One function per object, used by the API, the webhooks and domain events."""

import json

from core.formats import rfc3339
from events.models import DomainEvent

from .models import WebhookDelivery, WebhookEndpoint


def event_to_dict(event: DomainEvent) -> dict:
    """`{"id", "type", "created_at", "data": {"object": ...}}`: the event as the merchant sees it.
    DomainEvent.data already holds `{"object": <the object's public shape>}`, whatever its type."""
    return {"id": event.id, "type": event.type, "created_at": rfc3339(event.occurred_at), "data": event.data}


def webhook_body(event: DomainEvent) -> str:
    """The exact text that is signed and sent (ASCII JSON, so text and bytes are the same)."""
    return json.dumps(event_to_dict(event), separators=(",", ":"))


def endpoint_to_dict(endpoint: WebhookEndpoint, *, secret: str | None = None) -> dict:
    """`secret` is given only in the answers that create it (registration, rotation)."""
    body = {
        "id": endpoint.id,
        "object": "webhook_endpoint",
        "url": endpoint.url,
        "event_types": list(endpoint.event_types),
        "status": endpoint.status,
        "disabled_reason": endpoint.disabled_reason or None,
        "created_at": rfc3339(endpoint.created_at),
    }
    if secret is not None:
        body["secret"] = secret
    return body


def delivery_to_dict(delivery: WebhookDelivery) -> dict:
    return {
        "id": delivery.id,
        "object": "webhook_delivery",
        "endpoint": delivery.endpoint_id,
        "event": delivery.event_id,
        "event_type": delivery.event_type,
        "status": delivery.status,
        "attempts": delivery.attempt_count,
        "next_attempt_at": rfc3339(delivery.next_attempt_at),
        "last_attempt_at": rfc3339(delivery.last_attempt_at),
        "last_status_code": delivery.last_status_code,
        "last_error": delivery.last_error or None,
        "delivered_at": rfc3339(delivery.delivered_at),
        "created_at": rfc3339(delivery.created_at),
    }
