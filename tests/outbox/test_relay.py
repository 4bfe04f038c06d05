"""The outbox relay against the local RabbitMQ: every committed event reaches the bus, at least
once, in sequence order per aggregate, with relays side by side and relays that crash."""

import threading
from collections import Counter, defaultdict
from datetime import timedelta

import pytest
from django.db import connections, transaction
from django.utils import timezone

from core.ids import new_id
from events.models import DomainEvent
from outbox import relay
from outbox.models import EndpointStatus, WebhookDelivery
from outbox.relay import relay_run
from tests.factories import MerchantFactory
from tests.outbox.factories import WebhookEndpointFactory
from tests.outbox.helpers import record, unpublished
from tests.payments.helpers import run_concurrently


def _by_aggregate(messages) -> dict[str, list[int]]:
    streams = defaultdict(list)
    for message in messages:
        streams[message.body["aggregate"]["id"]].append(message.body["aggregate"]["sequence"])
    return streams


@pytest.mark.django_db
def test_each_event_is_published_to_the_topic_exchange_under_its_type(bus_tap, merchant):
    created = record(merchant, aggregate_id="pay_A", type="payment.created")
    captured = record(merchant, aggregate_id="pay_A", type="payment.captured")
    opened = record(merchant, aggregate_id="pay_B", type="dispute.opened")
    moved = record(merchant, aggregate_id="wal_C", aggregate_type="wallet", type="wallet.movement_created")

    run = relay_run()

    messages = bus_tap.drain()
    assert run.published == 4
    assert sorted((m.routing_key, m.body["id"]) for m in messages) == sorted(
        (e.type, e.id) for e in (created, captured, opened, moved)
    )
    message = next(m for m in messages if m.body["id"] == captured.id)
    assert message.body == {
        "id": captured.id,
        "type": "payment.captured",
        "created_at": captured.occurred_at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "data": {"object": {"id": "pay_A", "object": "payment", "status": "captured"}},
        "merchant": merchant.id,
        "aggregate": {"type": "payment", "id": "pay_A", "sequence": 2},
        "correlation_id": None,
        "causation_id": None,
    }
    assert message.delivery_mode == 2  # persistent
    assert message.properties["message_id"] == captured.id
    assert unpublished() == 0
    assert relay_run().published == 0 and bus_tap.drain() == []


@pytest.mark.django_db
def test_events_of_one_aggregate_are_published_in_sequence_order(bus_tap, merchant):
    for _ in range(6):
        record(merchant, aggregate_id="pay_LONG")
    for index in range(5):
        record(merchant, aggregate_id=f"pay_SHORT{index}")

    relay_run(batch_size=3)

    messages = bus_tap.drain()
    assert len(messages) == 11
    assert _by_aggregate(messages)["pay_LONG"] == [1, 2, 3, 4, 5, 6]


@pytest.mark.django_db(transaction=True)
def test_a_later_event_waits_while_an_earlier_one_is_in_another_relays_batch(bus_tap, merchant):
    first = record(merchant, aggregate_id="pay_HELD")
    second = record(merchant, aggregate_id="pay_HELD")
    other = record(merchant, aggregate_id="pay_FREE")
    claimed, release = threading.Event(), threading.Event()

    def another_relay_holding_the_first():
        with transaction.atomic():
            list(DomainEvent.objects.select_for_update(no_key=True).filter(pk=first.pk))
            claimed.set()
            release.wait(timeout=30)
        connections.close_all()

    holder = threading.Thread(target=another_relay_holding_the_first, daemon=True)
    holder.start()
    assert claimed.wait(timeout=30)

    relay_run()

    assert [m.body["id"] for m in bus_tap.drain()] == [other.id]  # neither the held one nor its successor
    release.set()
    holder.join(timeout=30)
    relay_run()
    assert [m.body["id"] for m in bus_tap.drain()] == [first.id, second.id]


@pytest.mark.django_db(transaction=True)
def test_two_relays_side_by_side_publish_every_event_exactly_once_in_order(bus_tap):
    merchants = MerchantFactory.create_batch(3)
    events = [record(merchants[i % 3], aggregate_id=f"pay_R{i % 12}") for i in range(72)]
    for merchant in merchants:
        WebhookEndpointFactory(merchant=merchant)

    runs = run_concurrently(2, lambda _: relay_run(batch_size=4))

    messages = bus_tap.drain()
    assert Counter(m.body["id"] for m in messages) == Counter({e.id: 1 for e in events})
    assert sum(run.published for run in runs) == 72
    assert all(run.published > 0 for run in runs), "both relays took part"
    assert all(sequences == list(range(1, 7)) for sequences in _by_aggregate(messages).values())
    assert unpublished() == 0
    assert WebhookDelivery.objects.count() == 72  # one per event and endpoint, whoever relayed it


@pytest.mark.django_db
def test_a_crash_between_publishing_and_marking_republishes_and_loses_nothing(bus_tap, merchant, monkeypatch):
    WebhookEndpointFactory(merchant=merchant)
    events = [record(merchant, aggregate_id=f"pay_C{i}") for i in range(5)]

    def crash(event_ids):
        raise RuntimeError("worker killed after publishing")

    monkeypatch.setattr(relay, "_mark_published", crash)
    with pytest.raises(RuntimeError):
        relay_run()
    ids = sorted(e.id for e in events)
    assert sorted(m.body["id"] for m in bus_tap.drain()) == ids  # out on the bus
    assert unpublished() == 5 and WebhookDelivery.objects.count() == 0  # but rolled back here

    monkeypatch.undo()
    assert relay_run().published == 5

    assert sorted(m.body["id"] for m in bus_tap.drain()) == ids  # again: subscribers dedupe
    assert unpublished() == 0
    assert WebhookDelivery.objects.count() == 5


@pytest.mark.django_db
def test_nothing_is_published_for_a_transaction_that_rolled_back(bus_tap, merchant):
    with pytest.raises(RuntimeError), transaction.atomic():
        record(merchant, aggregate_id="pay_GONE")
        raise RuntimeError("the request failed after recording its event")
    kept = record(merchant, aggregate_id="pay_KEPT")

    relay_run()

    assert [m.body["id"] for m in bus_tap.drain()] == [kept.id]


@pytest.mark.django_db
def test_an_unavailable_bus_leaves_every_event_for_the_next_run(bus_tap, merchant, settings):
    WebhookEndpointFactory(merchant=merchant)
    event = record(merchant)
    settings.EVENT_BUS_URL = "amqp://guest:guest@127.0.0.1:1//"  # nothing listens there

    run = relay_run()

    assert (run.failed, run.published) == (True, 0)
    assert unpublished() == 1 and WebhookDelivery.objects.count() == 0
    settings.EVENT_BUS_URL = bus_tap.connection.as_uri(include_password=True)
    assert relay_run().published == 1
    assert [m.body["id"] for m in bus_tap.drain()] == [event.id]


@pytest.mark.django_db
def test_deliveries_are_fanned_out_to_the_merchants_subscribed_enabled_endpoints(bus_tap, merchant):
    everything = WebhookEndpointFactory(merchant=merchant, event_types=["*"])
    captures = WebhookEndpointFactory(merchant=merchant, event_types=["payment.captured", "dispute.opened"])
    disabled = WebhookEndpointFactory(merchant=merchant)
    disabled.status, disabled.disabled_reason = EndpointStatus.DISABLED, "operator"
    disabled.save()
    WebhookEndpointFactory()  # another merchant's
    created = record(merchant, aggregate_id="pay_F", type="payment.created")
    captured = record(merchant, aggregate_id="pay_F", type="payment.captured")
    opened = record(merchant, aggregate_id="pay_G", type="dispute.opened")

    relay_run()

    deliveries = set(WebhookDelivery.objects.values_list("event_id", "endpoint_id"))
    assert deliveries == {
        (created.id, everything.id),
        (captured.id, everything.id),
        (opened.id, everything.id),
        (captured.id, captures.id),
        (opened.id, captures.id),
    }


@pytest.mark.django_db
def test_backlog_and_lag_are_exported_as_metrics(client, merchant):
    ninety_seconds_ago = timezone.now() - timedelta(seconds=90)
    waiting = DomainEvent.objects.create(
        id=new_id("evt", at=ninety_seconds_ago),  # as it would have been minted then
        merchant=merchant,
        aggregate_type="payment",
        aggregate_id="pay_OLD",
        sequence=1,
        type="payment.created",
        data={"object": {}},
        occurred_at=ninety_seconds_ago,
    )
    record(merchant)

    before = client.get("/metrics").content.decode()
    relay_run()
    after = client.get("/metrics").content.decode()

    assert "outbox_backlog_events 2.0" in before
    lag = float(next(line for line in before.splitlines() if line.startswith("outbox_lag_seconds ")).split()[1])
    assert 80 <= lag < 600  # measured against the database clock, which started this test
    assert "outbox_backlog_events 0.0" in after and "outbox_lag_seconds 0.0" in after
    assert DomainEvent.objects.get(pk=waiting.pk).published_at is not None
