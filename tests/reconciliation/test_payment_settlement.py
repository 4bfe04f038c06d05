"""payments.settlement: captured payments move to settled under their row locks, each with a
`payment.settled` event that carries the payment exactly as the API shows it."""

from datetime import UTC, datetime

import pytest

from core import context
from events.models import DomainEvent
from events.services import event_record
from payments.models import Payment
from payments.representations import payment_to_dict
from payments.settlement import payment_settle, payments_settle
from tests.factories import PaymentFactory

pytestmark = pytest.mark.django_db


def settled_events(payment: Payment) -> list[DomainEvent]:
    return list(DomainEvent.objects.filter(aggregate_id=payment.pk, type="payment.settled"))


def test_a_batch_settles_its_captured_payments_each_with_the_event_the_api_would_write():
    payments = [
        PaymentFactory(
            captured=True,
            reference="order-1",
            metadata={"cart": [1, 2]},
            description="Two books",
            capture_before=datetime(2025, 1, 15, 10, 0, 0, 999_999, tzinfo=UTC),  # milliseconds truncated
        ),
        PaymentFactory(captured=True, amount=5_050, currency="USD", provider="rede", capture_before=None),
    ]
    event_record(
        merchant_id=payments[0].merchant_id,
        aggregate_type="payment",
        aggregate_id=payments[0].pk,
        type="payment.captured",
        data={"object": payment_to_dict(payments[0])},
    )

    with context.bound(correlation="reconciliation:test", causation="run-1"):
        settled = payments_settle(payment_ids=[payment.pk for payment in payments])

    assert sorted(settled) == sorted(payment.pk for payment in payments)
    for payment in payments:
        payment.refresh_from_db()
        (event,) = settled_events(payment)
        assert payment.status == "settled"
        assert event.data == {"object": payment_to_dict(payment)}
        assert (event.correlation_id, event.causation_id, event.merchant_id) == (
            "reconciliation:test",
            "run-1",
            payment.merchant_id,
        )
        assert event.id.startswith("evt_") and len(event.id) == 30
    assert [
        event.sequence for event in DomainEvent.objects.filter(aggregate_id=payments[0].pk).order_by("sequence")
    ] == [
        1,
        2,
    ]


def test_payments_no_longer_captured_are_left_alone():
    captured = PaymentFactory(captured=True)
    refunded = PaymentFactory(captured=True, status="refunded", amount_refunded=10_000)
    authorized = PaymentFactory(authorized=True)

    settled = payments_settle(payment_ids=[captured.pk, refunded.pk, authorized.pk])
    again = payments_settle(payment_ids=[captured.pk])

    assert settled == [captured.pk]
    assert again == []
    assert Payment.objects.get(pk=refunded.pk).status == "refunded"
    assert Payment.objects.get(pk=authorized.pk).status == "authorized"
    assert len(settled_events(captured)) == 1
    assert not settled_events(refunded) and not settled_events(authorized)


def test_one_payment_settles_through_its_state_machine_with_the_same_event():
    one, batch = PaymentFactory(captured=True), PaymentFactory(captured=True)

    assert payment_settle(payment_id=one.pk) is True
    assert payment_settle(payment_id=one.pk) is False
    payments_settle(payment_ids=[batch.pk])

    one.refresh_from_db()
    batch.refresh_from_db()
    assert one.status == batch.status == "settled"
    (event,) = settled_events(one)
    (batch_event,) = settled_events(batch)
    assert event.data == {"object": payment_to_dict(one)}
    assert set(event.data["object"]) == set(batch_event.data["object"])
