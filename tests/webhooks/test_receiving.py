"""POST /webhooks/providers/{provider}/: what is accepted, what is refused, and what is kept."""

import json
import logging
import time
import uuid

import pytest
from django.test import Client

from payments.models import Payment
from tests.payments.helpers import assert_problem, authorize, create_payment
from tests.webhooks.conftest import WEBHOOKS, Delivery, wait_until
from tests.webhooks.helpers import deliver, event_types, kind_of, signed
from webhooks import services as webhook_services
from webhooks.models import InboundNotification

PROVIDERS = ["cielo", "rede", "getnet"]


def _pending_authorization(api, recorder, provider: str) -> tuple[str, Delivery]:
    """A tok_async payment awaiting its provider's decision, and the provider's signed
    notification of that decision (recorded, not delivered yet)."""
    payment = create_payment(
        api, provider=provider, capture_method="manual", payment_method={"type": "card", "token": "tok_async"}
    )
    assert authorize(api, payment["id"]).json()["status"] == "authorization_requested"
    [notification] = wait_until(lambda: recorder.of(payment["id"]), what="the authorization's notification")
    return payment["id"], notification


@pytest.mark.django_db(transaction=True)
def test_each_providers_signed_notification_is_acknowledged_stored_and_applied(client, api, recorder):
    for provider in PROVIDERS:
        payment_id, notification = _pending_authorization(api, recorder, provider)

        response = deliver(client, notification)

        assert response.status_code == 200, response.content
        assert response.json()["received"] is True and response.json()["duplicate"] is False
        stored = InboundNotification.objects.get(pk=response.json()["id"])
        assert (stored.provider, stored.verdict, stored.status) == (provider, "accepted", "applied")
        assert (stored.kind, stored.payment_reference) == ("authorization", payment_id)
        assert bytes(stored.body) == notification.body
        sent_headers = {k.lower() for k in notification.headers} - {"content-length", "host"}
        assert sent_headers <= {k.lower() for k in stored.headers}
        payment = Payment.objects.get(pk=payment_id)
        assert payment.status == "authorized"
        assert payment.provider_reference == stored.notification["provider_reference"]
        assert event_types(payment_id)[-1] == "payment.authorized"
        assert kind_of(notification) == "authorization"


@pytest.mark.django_db(transaction=True)
def test_a_repeated_notification_is_acknowledged_and_applied_once(client, api, recorder):
    payment_id, notification = _pending_authorization(api, recorder, "rede")

    first, second, third = (deliver(client, notification) for _ in range(3))

    assert [r.status_code for r in (first, second, third)] == [200, 200, 200]
    assert [r.json()["duplicate"] for r in (first, second, third)] == [False, True, True]
    stored = InboundNotification.objects.filter(payment_reference=payment_id)
    assert sorted(stored.values_list("verdict", flat=True)) == ["accepted", "duplicate", "duplicate"]
    assert {n.duplicate_of_id for n in stored.filter(verdict="duplicate")} == {first.json()["id"]}
    assert event_types(payment_id).count("payment.authorized") == 1


@pytest.mark.django_db(transaction=True)
def test_a_tampered_notification_is_refused_and_changes_nothing(client, api, recorder, caplog):
    for provider in PROVIDERS:
        payment_id, notification = _pending_authorization(api, recorder, provider)
        declined = notification.body.replace(b"Approved", b"Denied").replace(b"APPROVED", b"DENIED")
        declined = declined.replace(b"transaction.authorized", b"transaction.denied")
        assert declined != notification.body

        with caplog.at_level(logging.WARNING, logger="webhooks.services"):
            response = deliver(client, Delivery(provider, notification.headers, declined))

        assert_problem(response, 400, "invalid_signature")
        assert Payment.objects.get(pk=payment_id).status == "authorization_requested"
        stored = InboundNotification.objects.get(provider=provider)
        assert (stored.verdict, stored.rejection, stored.status) == ("rejected", "invalid_signature", "")
        assert bytes(stored.body) == declined
        refused = [r for r in caplog.records if r.message == "provider notification refused"]
        assert refused[-1].reason == "invalid_signature" and refused[-1].provider == provider


def _body() -> bytes:
    return json.dumps({"id": "evt-1", "anything": True}).encode()


REFUSALS = {
    "missing_signature": (lambda p: Delivery(p, {}, _body()), 400),
    "invalid_signature": (lambda p: signed(p, _body(), secret="not-the-shared-secret"), 400),
    "stale_timestamp": (lambda p: signed(p, _body(), now=time.time() - 301), 400),
    "future_timestamp": (lambda p: signed(p, _body(), now=time.time() + 120), 400),
    "malformed": (lambda p: signed(p, b'{"not": "a notification"}'), 400),
}


@pytest.mark.django_db
@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("reason", sorted(REFUSALS))
def test_refusals_are_problems_and_are_kept(client, provider, reason):
    make, status = REFUSALS[reason]
    delivery = make(provider)

    response = deliver(client, delivery)

    assert_problem(response, status, reason)
    stored = InboundNotification.objects.get()
    assert (stored.provider, stored.verdict, stored.rejection) == (provider, "rejected", reason)
    assert bytes(stored.body) == delivery.body and stored.body_size == len(delivery.body)


@pytest.mark.django_db
def test_a_flood_of_refused_requests_is_kept_only_up_to_the_budget(client, settings, monkeypatch):
    """Anyone can post to the endpoint: past the budget a refusal is still answered, but not kept."""
    settings.PROVIDER_WEBHOOK_REFUSED_KEPT_PER_MINUTE = 3
    window = f"test-{uuid.uuid4()}"  # a minute of its own, untouched by other tests
    monkeypatch.setattr(webhook_services, "_refusal_window", lambda: window)

    responses = [deliver(client, Delivery("rede", {}, _body())) for _ in range(5)]
    other_provider = deliver(client, Delivery("cielo", {}, _body()))

    for response in [*responses, other_provider]:
        assert_problem(response, 400, "missing_signature")
    kept = InboundNotification.objects.filter(verdict="rejected")
    assert sorted(kept.values_list("provider", flat=True)) == ["cielo", "rede", "rede", "rede"]  # a budget per provider


@pytest.mark.django_db
@pytest.mark.parametrize(
    "headers",
    [
        {"X-Cielo-Signature": "v1=abc"},
        {"X-Cielo-Signature": "t=12x,v1=abc"},
        {"X-Cielo-Signature": "t=1700000000,v1=zz"},
    ],
)
def test_an_unreadable_signature_header_is_refused(client, headers):
    assert_problem(deliver(client, Delivery("cielo", headers, _body())), 400, "invalid_signature")


@pytest.mark.django_db
def test_a_notification_for_an_unknown_provider_is_refused_and_kept(client):
    delivery = signed("cielo", _body())

    response = deliver(client, delivery, path=f"{WEBHOOKS}/stripe/")

    assert_problem(response, 404, "unknown_provider")
    stored = InboundNotification.objects.get()
    assert (stored.provider, stored.verdict, stored.rejection) == ("stripe", "rejected", "unknown_provider")


@pytest.mark.django_db
def test_an_oversized_notification_is_refused_unread(client, settings):
    body = b'{"pad": "' + b"x" * settings.PROVIDER_WEBHOOK_MAX_BODY_BYTES + b'"}'

    response = deliver(client, signed("getnet", body))

    assert_problem(response, 413, "request_too_large")
    stored = InboundNotification.objects.get()
    assert (stored.rejection, stored.body_size, bytes(stored.body)) == ("too_large", len(body), b"")


@pytest.mark.django_db
def test_only_post_is_allowed_and_no_api_key_is_asked(client):
    assert_problem(client.get(f"{WEBHOOKS}/cielo/"), 405)
    assert not InboundNotification.objects.exists()


@pytest.mark.django_db
def test_stored_requests_cannot_be_rewritten_or_deleted(client):
    deliver(client, signed("rede", _body()))
    stored = InboundNotification.objects.get()

    from django.db import IntegrityError, transaction
    from django.db.utils import InternalError

    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        InboundNotification.objects.filter(pk=stored.pk).update(body=b"rewritten")
    with pytest.raises((IntegrityError, InternalError)), transaction.atomic():
        InboundNotification.objects.filter(pk=stored.pk).delete()
    assert bytes(InboundNotification.objects.get().body) == _body()


@pytest.mark.django_db
def test_the_admin_shows_every_request_with_its_verdict_read_only(admin_client, client):
    deliver(client, signed("cielo", _body(), secret="wrong"))
    stored = InboundNotification.objects.get()

    listing = admin_client.get("/admin/webhooks/inboundnotification/?verdict__exact=rejected")
    page = admin_client.get(f"/admin/webhooks/inboundnotification/{stored.pk}/change/")

    assert listing.status_code == 200 and stored.id in listing.content.decode()
    assert page.status_code == 200 and "invalid_signature" in page.content.decode()
    assert "evt-1" in page.content.decode()  # the raw body, as received
    assert admin_client.get("/admin/webhooks/inboundnotification/add/").status_code == 403
    assert admin_client.post(f"/admin/webhooks/inboundnotification/{stored.pk}/delete/").status_code == 403


@pytest.mark.django_db
def test_providers_need_no_csrf_token_nor_api_key():
    provider = Client(enforce_csrf_checks=True)

    response = deliver(provider, signed("cielo", _body()))

    assert_problem(response, 400, "malformed")  # it reached the view: only the body is wrong
