"""Delivering notifications to our endpoint the way providers do, and reading what came of them."""

import json
import time
import uuid

from django.conf import settings
from django.test import Client

from events.models import DomainEvent
from providers import registry
from providers.port import NotificationKind
from sandbox import Credentials, SandboxSettings
from sandbox.disputes import Dispute
from sandbox.notifications import RENDERERS, Event, signed_headers
from sandbox.store import Transaction
from tests.webhooks.conftest import WEBHOOKS, Delivery, Recorder, wait_until


def sandbox_settings() -> SandboxSettings:
    """Sandbox settings holding the webhook secrets the product's settings expect."""
    return SandboxSettings(
        credentials=Credentials(
            **{f"{name}_webhook_secret": settings.PROVIDERS[name]["webhook_secret"] for name in settings.PROVIDERS}
        )
    )


def signed(provider: str, body: bytes, *, now: float | None = None, secret: str | None = None) -> Delivery:
    """`body` signed the way `provider` signs, at `now` (default: the current time)."""
    sandbox = sandbox_settings()
    if secret is not None:
        sandbox = SandboxSettings(credentials=Credentials(**{f"{provider}_webhook_secret": secret}))
    return Delivery(provider, signed_headers(sandbox, provider, body, now), body)


def deliver(client: Client, delivery: Delivery, *, path: str | None = None):
    return client.post(
        path or f"{WEBHOOKS}/{delivery.provider}/",
        data=delivery.body,
        content_type="application/json",
        headers={k: v for k, v in delivery.headers.items() if k.lower() not in ("content-type", "content-length")},
    )


def kind_of(delivery: Delivery) -> NotificationKind:
    """What a provider's notification is about, as its adapter reads it."""
    adapter = registry.get_provider(delivery.provider)
    return adapter.verify_notification(delivery.headers, delivery.body, now=time.time(), tolerance_seconds=300).kind


def event_types(payment_id: str) -> list[str]:
    rows = DomainEvent.objects.filter(aggregate_type="payment", aggregate_id=payment_id).order_by("sequence")
    return list(rows.values_list("type", flat=True))


def recorded(recorder: Recorder, payment_id: str, kind: str, *, timeout: float = 10.0) -> Delivery:
    """The provider's notification of `kind` about a payment, once the recorder has it."""

    def find() -> Delivery | None:
        return next((d for d in recorder.of(payment_id) if kind_of(d) == kind), None)

    return wait_until(find, timeout=timeout, what=f"the {kind} notification of {payment_id}")


def synthetic(
    provider: str,
    kind: str,
    *,
    payment_id: str,
    amount: int = 10_000,
    approved: bool = True,
    key: str = "",
    dispute: Dispute | None = None,
    event_id: str = "",
) -> Delivery:
    """A notification `provider` could have sent, in its format and signed, about anything we
    like (for cases a well-behaved sandbox never produces)."""
    now = time.time()
    txn = Transaction(
        provider=provider,
        id="1234567890",
        merchant="sandbox",
        order_ref=payment_id,
        token="tok_approve",
        amount=amount,
        currency="BRL",
        auto_capture=False,
        status="authorized" if approved else "declined",
        decline_reason="" if approved else "card_declined",
        tid="1234567890",
        nsu="123456",
        authorization_code="",
        captured_amount=0,
        refunded_amount=0,
        pending_until=None,
        created_at=now,
        updated_at=now,
    )
    event = Event(event_id or str(uuid.uuid4()), kind, txn, amount, key, dispute, created_at=now)
    return signed(provider, json.dumps(RENDERERS[provider](event)).encode())


def sandbox_dispute(provider: str, *, amount: int, dispute_id: str = "cb-1") -> Dispute:
    now = time.time()
    return Dispute(
        provider=provider,
        id=dispute_id,
        transaction_id="1234567890",
        merchant="sandbox",
        order_ref="",
        status="open",
        amount=amount,
        currency="BRL",
        reason_code="4837",
        reason_message="No Cardholder Authorization",
        opens_at=now,
        due_at=now + 7 * 86_400,
        decide_at=None,
        answer="",
        evidence="",
        updated_at=now,
    )
