"""Webhook deliveries to a real HTTP receiver on 127.0.0.1. Every request the receiver gets is
verified with the standardwebhooks package's own verifier."""

import threading
import time
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.db.models.functions import Now
from standardwebhooks.webhooks import WebhookVerificationError

from events.models import DomainEvent
from outbox import dispatch
from outbox.dispatch import deliveries_dispatch, retry_delay
from outbox.models import DeliveryStatus, DisabledReason, EndpointStatus, WebhookDelivery, WebhookEndpoint
from outbox.relay import relay_run
from tests.outbox.factories import WebhookEndpointFactory
from tests.outbox.helpers import make_due, record
from tests.payments.helpers import captured_payment, get, post, refund

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(merchant, receiver):
    return WebhookEndpointFactory(merchant=merchant, url=receiver.url("/hook"))


def _delivery(event) -> WebhookDelivery:
    return WebhookDelivery.objects.get(event=event)


@pytest.mark.django_db(transaction=True)
def test_a_merchant_receives_every_event_of_its_payments_signed_and_in_order(api, receiver):
    registered = post(api, "/webhook-endpoints", {"url": receiver.url("/hook"), "event_types": ["*"]})
    assert registered.status_code == 201, registered.content
    secret = registered.json()["secret"]
    first = captured_payment(api, amount=10_000)
    assert refund(api, first["id"], 2_500).status_code == 201
    second = captured_payment(api, amount=7_000)
    assert refund(api, first["id"]).status_code == 201

    for _ in range(20):  # relay and dispatch as beat would, until everything is out
        if not relay_run().published + deliveries_dispatch():
            break

    received = [request.verify(secret) for request in receiver.received("/hook")]
    listed = get(api, "/events", {"limit": "100"}).json()["data"]
    assert sorted(received, key=lambda event: event["id"]) == sorted(listed, key=lambda event: event["id"])
    assert all(request.headers["webhook-id"] == request.verify(secret)["id"] for request in receiver.received())
    for payment in (first, second):
        history = get(api, f"/payments/{payment['id']}/events", {"limit": "100"}).json()["data"]
        arrived = [event["id"] for event in received if _payment_of(event) == payment["id"]]
        assert arrived == [event["id"] for event in history]
    assert {event["type"] for event in received} >= {
        "payment.created",
        "payment.authorized",
        "payment.captured",
        "refund.created",
        "refund.succeeded",
        "payment.refunded",
    }
    assert set(WebhookDelivery.objects.values_list("status", flat=True)) == {DeliveryStatus.DELIVERED}


def _payment_of(event: dict) -> str:
    obj = event["data"]["object"]
    return obj["payment"] if obj["object"] == "refund" else obj["id"]


def test_a_receiver_that_fails_three_times_gets_the_event_once_it_recovers(endpoint, receiver, merchant):
    receiver.script("/hook", 500, 503, (502, b"still down"))
    captured = record(merchant, aggregate_id="pay_R", type="payment.captured")
    refunded = record(merchant, aggregate_id="pay_R", type="refund.succeeded")
    relay_run()

    for attempt in range(1, 4):
        assert deliveries_dispatch() == 1  # the refund waits behind the capture
        delivery = _delivery(captured)
        assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.PENDING, attempt)
        assert deliveries_dispatch() == 0  # not due before its backoff
        make_due()
    assert deliveries_dispatch() == 2  # delivered at last, and the refund right after it

    requests = receiver.received("/hook")
    assert [request.verify(endpoint.clear_secret)["id"] for request in requests] == [captured.id] * 4 + [refunded.id]
    assert len({request.headers["webhook-id"] for request in requests[:4]}) == 1  # the same message, again
    delivery = _delivery(captured)
    assert (delivery.status, delivery.attempt_count, delivery.last_error) == (DeliveryStatus.DELIVERED, 4, "")
    assert [(a.status_code, a.delivered, a.error) for a in delivery.attempts.order_by("id")] == [
        (500, False, "HTTP 500"),
        (503, False, "HTTP 503"),
        (502, False, "HTTP 502"),
        (200, True, ""),
    ]
    assert delivery.attempts.order_by("id")[2].response_excerpt == "still down"
    assert _delivery(refunded).status == DeliveryStatus.DELIVERED
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).failing_since is None


def test_retries_back_off_on_a_schedule_with_jitter():
    expected = [5, 300, 1800, 7200, 18000, 36000, 36000, 36000, 36000]
    for attempts, seconds in enumerate(expected, start=1):
        delays = {retry_delay(attempts).total_seconds() for _ in range(20)}
        assert all(0.8 * seconds <= delay <= 1.2 * seconds for delay in delays)
        assert len(delays) > 1  # jittered


def test_the_first_retry_comes_about_five_seconds_after_a_failure(endpoint, receiver, merchant):
    receiver.script("/hook", 500)
    record(merchant)
    relay_run()

    deliveries_dispatch()

    delivery = WebhookDelivery.objects.get()
    assert 4 <= (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds() <= 6


def test_a_delivery_failing_for_three_days_is_given_up(endpoint, receiver, merchant):
    receiver.script("/hook", 500, 500)
    old, recent = record(merchant), record(merchant)
    relay_run()
    WebhookDelivery.objects.filter(event=old).update(first_attempt_at=Now() - timedelta(days=3), attempt_count=12)
    WebhookDelivery.objects.filter(event=recent).update(
        first_attempt_at=Now() - timedelta(days=2, hours=23), attempt_count=11
    )

    assert deliveries_dispatch() == 2

    assert (_delivery(old).status, _delivery(old).next_attempt_at) == (DeliveryStatus.FAILED, None)
    still = _delivery(recent)
    assert still.status == DeliveryStatus.PENDING
    assert timedelta(hours=8) <= still.next_attempt_at - still.last_attempt_at <= timedelta(hours=12)
    make_due()
    assert deliveries_dispatch() == 1  # only the one still pending


def test_410_gone_disables_the_endpoint_and_the_merchant_is_told(endpoint, receiver, merchant):
    watcher = WebhookEndpointFactory(
        merchant=merchant, url=receiver.url("/watcher"), event_types=["webhook_endpoint.disabled"]
    )
    receiver.script("/hook", 410)
    record(merchant, type="payment.captured")
    relay_run()

    deliveries_dispatch()

    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == (EndpointStatus.DISABLED, DisabledReason.GONE)
    record(merchant, type="payment.captured")
    relay_run()
    deliveries_dispatch()
    assert len(receiver.received("/hook")) == 1  # nothing more after the 410
    [told] = [request.verify(watcher.clear_secret) for request in receiver.received("/watcher")]
    assert told["type"] == "webhook_endpoint.disabled"
    assert told["data"]["object"]["id"] == endpoint.id
    assert told["data"]["object"]["status"] == "disabled"
    assert told["data"]["object"]["disabled_reason"] == "gone"
    assert "secret" not in told["data"]["object"]


def test_an_endpoint_failing_for_five_days_is_disabled(endpoint, receiver, merchant):
    receiver.script("/hook", 500, 500)
    record(merchant)
    relay_run()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=Now() - timedelta(days=4, hours=23))
    deliveries_dispatch()
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).status == EndpointStatus.ENABLED

    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(failing_since=Now() - timedelta(days=5))
    make_due()
    deliveries_dispatch()

    endpoint.refresh_from_db()
    assert (endpoint.status, endpoint.disabled_reason) == (EndpointStatus.DISABLED, DisabledReason.FAILING)
    assert DomainEvent.objects.filter(aggregate_id=endpoint.id, type="webhook_endpoint.disabled").count() == 1
    make_due()
    assert deliveries_dispatch() == 0  # nothing goes to a disabled endpoint


def test_a_redirect_is_not_followed_and_counts_as_a_failure(endpoint, receiver, merchant):
    receiver.script("/hook", 302)
    record(merchant)
    relay_run()

    deliveries_dispatch()

    attempt = WebhookDelivery.objects.get().attempts.get()
    assert (attempt.delivered, attempt.status_code) == (False, 302)
    assert "redirect" in attempt.error
    assert receiver.received("/redirected") == []


def test_an_answer_slower_than_the_timeout_is_a_failure(endpoint, receiver, merchant, settings):
    settings.WEBHOOK_TIMEOUT_SECONDS = 0.3
    hold = receiver.hold("/hook")
    record(merchant)
    relay_run()

    started = time.monotonic()
    deliveries_dispatch()
    elapsed = time.monotonic() - started
    hold.release.set()

    attempt = WebhookDelivery.objects.get().attempts.get()
    assert (attempt.delivered, attempt.status_code, attempt.error) == (False, None, "no answer within 0.3 s")
    assert elapsed < 5


def test_each_attempt_keeps_at_most_one_kib_of_the_answer(endpoint, receiver, merchant):
    receiver.script("/hook", (500, "é".encode() * 5000))
    record(merchant)
    relay_run()

    deliveries_dispatch()

    attempt = WebhookDelivery.objects.get().attempts.get()
    assert len(attempt.response_excerpt.encode()) <= 1024
    assert attempt.response_excerpt.startswith("éééé")
    assert attempt.latency_ms >= 0


def test_after_a_rotation_both_secrets_sign_for_24_hours(api, receiver, merchant):
    old_secret = post(api, "/webhook-endpoints", {"url": receiver.url("/hook"), "event_types": ["*"]}).json()
    rotated = post(api, f"/webhook-endpoints/{old_secret['id']}/rotate-secret", {})
    assert rotated.status_code == 200, rotated.content
    new_secret, old_secret = rotated.json()["secret"], old_secret["secret"]
    assert new_secret != old_secret and new_secret.startswith("whsec_")
    record(merchant)
    relay_run()

    deliveries_dispatch()

    [request] = receiver.received("/hook")
    assert len(request.headers["webhook-signature"].split(" ")) == 2
    assert request.verify(new_secret) == request.verify(old_secret)

    WebhookEndpoint.objects.update(previous_secret_expires_at=Now() - timedelta(seconds=1))
    post(api, f"/events/{request.verify(new_secret)['id']}/redeliver", {"endpoint": rotated.json()["id"]})
    deliveries_dispatch()
    later = receiver.received("/hook")[1]
    assert len(later.headers["webhook-signature"].split(" ")) == 1
    later.verify(new_secret)
    with pytest.raises(WebhookVerificationError):
        later.verify(old_secret)


def test_a_merchant_can_ask_for_a_redelivery(api, endpoint, receiver, merchant):
    delivered = record(merchant)
    relay_run()
    deliveries_dispatch()
    captures_only = post(
        api, "/webhook-endpoints", {"url": receiver.url("/captures"), "event_types": ["payment.captured"]}
    )

    again = post(api, f"/events/{delivered.id}/redeliver", {"endpoint": endpoint.id})
    first_time = post(api, f"/events/{delivered.id}/redeliver", {"endpoint": captures_only.json()["id"]})
    deliveries_dispatch()

    assert again.status_code == 202, again.content
    assert again.json()["status"] == "pending" and again.json()["event"] == delivered.id
    assert first_time.status_code == 202
    assert [r.verify(endpoint.clear_secret)["id"] for r in receiver.received("/hook")] == [delivered.id] * 2
    assert [r.headers["webhook-id"] for r in receiver.received("/captures")] == [delivered.id]
    assert WebhookDelivery.objects.get(event=delivered, endpoint=endpoint).attempt_count == 2


def test_a_redelivery_needs_an_enabled_endpoint_of_the_same_merchant(api, endpoint, merchant, other_merchant):
    event = record(merchant)
    foreign = WebhookEndpointFactory(merchant=other_merchant)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(status=EndpointStatus.DISABLED, disabled_reason="operator")

    disabled = post(api, f"/events/{event.id}/redeliver", {"endpoint": endpoint.id})
    not_ours = post(api, f"/events/{event.id}/redeliver", {"endpoint": foreign.id})
    no_event = post(api, "/events/evt_NOPE/redeliver", {"endpoint": endpoint.id})

    assert (disabled.status_code, disabled.json()["code"]) == (409, "webhook_endpoint_disabled")
    assert not_ours.status_code == 404 and no_event.status_code == 404
    assert WebhookDelivery.objects.count() == 0


def test_a_dispatcher_that_dies_after_claiming_leaves_a_lease_that_expires(endpoint, receiver, merchant):
    record(merchant)
    relay_run()
    [dead] = dispatch._claim(10)  # claimed, then the process died before sending

    assert deliveries_dispatch() == 0  # leased: nobody else sends it meanwhile
    WebhookDelivery.objects.update(lease_expires_at=Now() - timedelta(seconds=1))
    assert deliveries_dispatch() == 1
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED

    # Were the first dispatcher only slow, its late answer is recorded but changes nothing.
    dispatch._record(dead, dispatch.Outcome(False, 500, 10, "", "HTTP 500"))
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts.count()) == (DeliveryStatus.DELIVERED, 2)


@pytest.mark.django_db(transaction=True)
def test_no_database_lock_is_held_while_the_endpoint_is_called(endpoint, receiver, merchant):
    hold = receiver.hold("/hook")
    record(merchant)
    relay_run()
    done = []

    def dispatcher():
        done.append(deliveries_dispatch())
        connections.close_all()

    thread = threading.Thread(target=dispatcher, daemon=True)
    thread.start()
    assert hold.reached.wait(timeout=10), "the endpoint was never called"

    with transaction.atomic():  # while the endpoint holds its answer, every row is free
        assert WebhookDelivery.objects.select_for_update(nowait=True).count() == 1
        assert WebhookEndpoint.objects.select_for_update(nowait=True).filter(pk=endpoint.pk).count() == 1
    hold.release.set()
    thread.join(timeout=10)
    assert done == [1]
    assert WebhookDelivery.objects.get().status == DeliveryStatus.DELIVERED
