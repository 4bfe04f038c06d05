"""/webhook-endpoints and /events as a merchant's system uses them (API.md, "Webhooks to merchants")."""

from datetime import timedelta

import pytest
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from events.models import DomainEvent
from outbox.models import EndpointStatus, WebhookEndpoint
from tests.outbox.factories import WebhookEndpointFactory
from tests.outbox.helpers import record
from tests.payments.helpers import API, assert_problem, error_fields, get, new_key, post

pytestmark = pytest.mark.django_db

ENDPOINT_FIELDS = {"id", "object", "url", "event_types", "status", "disabled_reason", "created_at"}


def _register(api, url="https://hooks.example.com/payments", event_types=("*",), **extra):
    return post(api, "/webhook-endpoints", {"url": url, "event_types": list(event_types)}, **extra)


def test_an_endpoint_is_registered_and_its_secret_is_shown_only_then(api):
    created = _register(api, event_types=["payment.captured", "refund.succeeded"])

    assert created.status_code == 201, created.content
    body = created.json()
    assert set(body) == ENDPOINT_FIELDS | {"secret"}
    assert body["id"].startswith("we_") and body["object"] == "webhook_endpoint"
    assert (body["url"], body["status"], body["disabled_reason"]) == (
        "https://hooks.example.com/payments",
        "enabled",
        None,
    )
    assert body["event_types"] == ["payment.captured", "refund.succeeded"]
    assert body["secret"].startswith("whsec_")
    Webhook(body["secret"])  # a valid Standard Webhooks secret
    shown = get(api, f"/webhook-endpoints/{body['id']}").json()
    listed = get(api, "/webhook-endpoints").json()["data"]
    assert "secret" not in shown and all("secret" not in e for e in listed)
    assert shown == {key: value for key, value in body.items() if key != "secret"}


def test_registering_is_idempotent(api):
    key = new_key()
    first = _register(api, key=key)
    again = _register(api, key=key)

    assert again.status_code == 201 and again["Idempotent-Replayed"] == "true"
    assert again.json() == first.json()
    assert WebhookEndpoint.objects.count() == 1


def test_endpoints_are_listed_newest_first_by_cursor(api):
    ids = [_register(api).json()["id"] for _ in range(3)]

    first = get(api, "/webhook-endpoints", {"limit": "2"}).json()
    rest = get(api, "/webhook-endpoints", {"limit": "2", "starting_after": first["next_cursor"]}).json()

    assert [e["id"] for e in first["data"]] == ids[::-1][:2] and first["has_more"] is True
    assert [e["id"] for e in rest["data"]] == ids[:1] and rest["has_more"] is False


def test_a_deleted_endpoint_is_gone_for_the_merchant(api):
    endpoint = _register(api).json()

    deleted = api.delete(f"{API}/webhook-endpoints/{endpoint['id']}")

    assert deleted.status_code == 200
    assert deleted.json() == {"id": endpoint["id"], "object": "webhook_endpoint", "deleted": True}
    assert_problem(get(api, f"/webhook-endpoints/{endpoint['id']}"), 404, "resource_missing")
    assert_problem(api.delete(f"{API}/webhook-endpoints/{endpoint['id']}"), 404)
    assert get(api, "/webhook-endpoints").json()["data"] == []
    stored = WebhookEndpoint.objects.get(pk=endpoint["id"])
    assert (stored.status, stored.secret) == (EndpointStatus.DELETED, "")


def test_another_merchants_endpoints_do_not_exist(api, other_merchant):
    theirs = WebhookEndpointFactory(merchant=other_merchant)

    assert_problem(get(api, f"/webhook-endpoints/{theirs.id}"), 404)
    assert_problem(api.delete(f"{API}/webhook-endpoints/{theirs.id}"), 404)
    assert_problem(post(api, f"/webhook-endpoints/{theirs.id}/rotate-secret", {}), 404)
    assert get(api, "/webhook-endpoints").json()["data"] == []
    assert WebhookEndpoint.objects.get(pk=theirs.id).status == EndpointStatus.ENABLED


def test_rotating_gives_a_new_secret_once(api):
    endpoint = _register(api).json()

    rotated = post(api, f"/webhook-endpoints/{endpoint['id']}/rotate-secret", {})

    assert rotated.status_code == 200, rotated.content
    assert set(rotated.json()) == ENDPOINT_FIELDS | {"secret"}
    assert rotated.json()["secret"] not in (endpoint["secret"], None)
    stored = WebhookEndpoint.objects.get(pk=endpoint["id"])
    assert (stored.secret, stored.previous_secret) == (rotated.json()["secret"], endpoint["secret"])
    overlap = stored.previous_secret_expires_at - stored.updated_at
    assert overlap == timedelta(hours=24)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event_types": ["*"]}, "url"),
        ({"url": "https://hooks.example.com"}, "event_types"),
        ({"url": 7, "event_types": ["*"]}, "url"),
        ({"url": "https://hooks.example.com", "event_types": "*"}, "event_types"),
        ({"url": "https://hooks.example.com", "event_types": []}, "event_types"),
        ({"url": "https://hooks.example.com", "event_types": ["*", "payment.captured"]}, "event_types"),
        ({"url": "https://hooks.example.com", "event_types": ["Payment Captured"]}, "event_types"),
        ({"url": "https://hooks.example.com", "event_types": [5]}, "event_types"),
        ({"url": "https://hooks.example.com", "event_types": ["*"], "secret": "whsec_mine"}, "secret"),
        ({"url": "ftp://hooks.example.com", "event_types": ["*"]}, "url"),
        ({"url": "https://user:pw@hooks.example.com", "event_types": ["*"]}, "url"),
    ],
)
def test_a_bad_registration_is_refused(api, body, field):
    problem = assert_problem(post(api, "/webhook-endpoints", body), 400)

    assert field in error_fields(problem)
    assert WebhookEndpoint.objects.count() == 0


def test_a_merchant_has_at_most_sixteen_endpoints(api):
    for _ in range(16):
        assert _register(api).status_code == 201

    assert_problem(_register(api), 409, "webhook_endpoint_limit_reached")
    api.delete(f"{API}/webhook-endpoints/{WebhookEndpoint.objects.first().pk}")
    assert _register(api).status_code == 201


def test_events_are_listed_newest_first_with_the_contracts_shape(api, merchant, other_merchant):
    first = record(merchant, aggregate_id="pay_E1", type="payment.created")
    second = record(merchant, aggregate_id="pay_E1", type="payment.authorized")
    third = record(merchant, aggregate_id="wal_E2", aggregate_type="wallet", type="wallet.movement_created")
    record(other_merchant)

    page = get(api, "/events").json()

    # Newest first by id: ids begin with their millisecond (core.ids), so ties are in no order.
    newest_first = sorted([first.id, second.id, third.id], reverse=True)
    assert [e["id"] for e in page["data"]] == newest_first
    assert page["has_more"] is False
    assert page["data"][newest_first.index(second.id)] == {
        "id": second.id,
        "type": "payment.authorized",
        "created_at": second.occurred_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "data": {"object": {"id": "pay_E1", "object": "payment", "status": "authorized"}},
    }
    assert get(api, f"/events/{second.id}").json() == page["data"][newest_first.index(second.id)]
    assert [e["id"] for e in get(api, "/events", {"type": "payment.created"}).json()["data"]] == [first.id]
    paged = get(api, "/events", {"limit": "2"}).json()
    rest = get(api, "/events", {"starting_after": paged["next_cursor"]}).json()
    assert paged["has_more"] is True and rest["has_more"] is False
    assert [e["id"] for e in paged["data"] + rest["data"]] == newest_first


def test_events_are_kept_30_days_and_only_for_their_merchant(api, merchant, other_merchant):
    old = DomainEvent.objects.create(
        merchant=merchant,
        aggregate_type="payment",
        aggregate_id="pay_OLD",
        sequence=1,
        type="payment.created",
        data={"object": {}},
        occurred_at=timezone.now() - timedelta(days=30, minutes=1),
    )
    theirs = record(other_merchant)

    assert get(api, "/events").json()["data"] == []
    assert_problem(get(api, f"/events/{old.id}"), 404)
    assert_problem(get(api, f"/events/{theirs.id}"), 404)
    assert_problem(get(api, "/events", {"limit": "0"}), 400)
    assert_problem(get(api, "/events", {"starting_after": "we_X"}), 400)
    assert_problem(get(api, "/events", {"colour": "red"}), 400)


def test_the_api_needs_a_key(client):
    assert_problem(client.get(f"{API}/events"), 401)
    assert_problem(client.get(f"{API}/webhook-endpoints"), 401)
