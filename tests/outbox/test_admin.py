"""Operators in the admin: deliveries per endpoint and event with every attempt, retry one,
replay a time range, enable and disable endpoints, and the relay's backlog and lag."""

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse

from events.models import DomainEvent
from outbox.dispatch import deliveries_dispatch
from outbox.models import DeliveryStatus, EndpointStatus, WebhookDelivery, WebhookEndpoint
from outbox.relay import relay_run
from tests.outbox.factories import WebhookEndpointFactory
from tests.outbox.helpers import record

pytestmark = pytest.mark.django_db


@pytest.fixture
def endpoint(merchant, receiver):
    return WebhookEndpointFactory(merchant=merchant, url=receiver.url("/hook"))


@pytest.fixture
def failed_delivery(endpoint, receiver, merchant):
    receiver.script("/hook", (500, b"database is down"))
    record(merchant, aggregate_id="pay_ADM", type="payment.captured")
    relay_run()
    deliveries_dispatch()
    WebhookDelivery.objects.update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    return WebhookDelivery.objects.get()


def test_operators_see_the_deliveries_of_an_endpoint_with_their_attempts(admin_client, endpoint, failed_delivery):
    listing = admin_client.get(reverse("admin:outbox_webhookdelivery_changelist"), {"endpoint__id__exact": endpoint.pk})
    page = admin_client.get(reverse("admin:outbox_webhookdelivery_change", args=[failed_delivery.pk]))
    endpoint_page = admin_client.get(reverse("admin:outbox_webhookendpoint_change", args=[endpoint.pk]))

    assert listing.status_code == 200 and failed_delivery.pk in listing.text
    assert page.status_code == 200
    assert "payment.captured" in page.text and "database is down" in page.text and "HTTP 500" in page.text
    assert endpoint_page.status_code == 200
    assert f"?endpoint__id__exact={endpoint.pk}" in endpoint_page.text
    assert endpoint.clear_secret not in endpoint_page.text  # never the secret


def test_an_operator_retries_a_delivery(admin_client, failed_delivery, receiver, endpoint):
    response = admin_client.post(
        reverse("admin:outbox_webhookdelivery_changelist"),
        {"action": "retry_now", "_selected_action": [failed_delivery.pk]},
        follow=True,
    )
    deliveries_dispatch()

    assert response.status_code == 200 and "1 delivery(ies) scheduled" in response.text
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempt_count) == (DeliveryStatus.DELIVERED, 2)
    assert [request.verify(endpoint.clear_secret)["type"] for request in receiver.received()] == [
        "payment.captured",
        "payment.captured",
    ]


def test_an_operator_replays_a_time_range_to_an_endpoint(admin_client, merchant, endpoint, receiver):
    inside = [record(merchant, aggregate_id="pay_IN") for _ in range(2)]
    after = record(merchant, aggregate_id="pay_AFTER")
    relay_run()
    deliveries_dispatch()
    url = reverse("admin:outbox_webhookendpoint_replay", args=[endpoint.pk])

    form = admin_client.get(url)
    replayed = admin_client.post(
        url, {"since": _form_time(inside[0].occurred_at), "until": _form_time(after.occurred_at)}
    )
    refused = admin_client.post(
        url, {"since": _form_time(after.occurred_at), "until": _form_time(inside[0].occurred_at)}
    )
    deliveries_dispatch()

    assert form.status_code == 200 and endpoint.url in form.text
    assert replayed.status_code == 302
    assert "must come before its end" in refused.text
    ids = [request.verify(endpoint.clear_secret)["id"] for request in receiver.received()]
    assert len(ids) == 5 and ids[3:] == [event.id for event in inside]  # the range again, in order


def _form_time(moment) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S.%f")  # UTC, the admin's time zone


def test_operators_disable_and_enable_an_endpoint(admin_client, endpoint, merchant):
    changelist = reverse("admin:outbox_webhookendpoint_changelist")

    admin_client.post(changelist, {"action": "disable", "_selected_action": [endpoint.pk]})
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).status == EndpointStatus.DISABLED
    admin_client.post(changelist, {"action": "enable", "_selected_action": [endpoint.pk]})

    assert WebhookEndpoint.objects.get(pk=endpoint.pk).status == EndpointStatus.ENABLED
    told = DomainEvent.objects.filter(aggregate_id=endpoint.pk).order_by("sequence")
    assert [event.type for event in told] == ["webhook_endpoint.disabled", "webhook_endpoint.enabled"]


def test_the_relay_backlog_and_its_lag_are_visible(admin_client, merchant):
    waiting = record(merchant, aggregate_id="pay_WAIT")
    record(merchant, aggregate_id="pay_WAIT")

    page = admin_client.get(reverse("admin:outbox_relaybacklogevent_changelist"))

    assert page.status_code == 200
    assert "Relay backlog: 2 unpublished event(s)" in page.text
    assert waiting.id in page.text
    relay_run()
    assert (
        "Relay backlog: 0 unpublished event(s)"
        in admin_client.get(reverse("admin:outbox_relaybacklogevent_changelist")).text
    )


def test_only_operators_with_the_permission_can_act(client, django_user_model, failed_delivery, endpoint):
    viewer = django_user_model.objects.create_user("viewer", password="pw", is_staff=True)
    viewer.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_webhookdelivery", "view_webhookendpoint"])
    )
    client.force_login(viewer)

    listing = client.get(reverse("admin:outbox_webhookdelivery_changelist"))
    client.post(
        reverse("admin:outbox_webhookdelivery_changelist"),
        {"action": "retry_now", "_selected_action": [failed_delivery.pk]},
    )
    replay = client.get(reverse("admin:outbox_webhookendpoint_replay", args=[endpoint.pk]))

    assert listing.status_code == 200 and "retry_now" not in listing.text
    assert WebhookDelivery.objects.get().status == DeliveryStatus.FAILED
    assert replay.status_code == 403
