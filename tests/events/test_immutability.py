import pytest
from django.db import DatabaseError, connection, transaction

from events.models import DomainEvent
from events.services import event_record


@pytest.fixture
def event(merchant):
    return event_record(
        merchant_id=merchant.id, aggregate_type="payment", aggregate_id="pay_X", type="payment.created", data={"a": 1}
    )


def _execute(sql: str, params: list) -> None:
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE events_domainevent SET data = '{\"a\": 2}' WHERE id = %s",
        "UPDATE events_domainevent SET type = 'payment.captured' WHERE id = %s",
        "UPDATE events_domainevent SET sequence = 7 WHERE id = %s",
        "DELETE FROM events_domainevent WHERE id = %s",
    ],
)
def test_the_database_refuses_to_rewrite_or_delete_an_event(event, sql):
    with pytest.raises(DatabaseError, match="events: domain event"):
        _execute(sql, [event.id])

    stored = DomainEvent.objects.get(pk=event.id)
    assert (stored.type, stored.sequence, stored.data) == ("payment.created", 1, {"a": 1})


def test_the_outbox_may_mark_an_event_published(event):
    _execute("UPDATE events_domainevent SET published_at = now() WHERE id = %s", [event.id])

    assert DomainEvent.objects.get(pk=event.id).published_at is not None


def test_sequences_are_per_aggregate_and_unique(merchant):
    first = event_record(merchant_id=merchant.id, aggregate_type="payment", aggregate_id="pay_A", type="t", data={})
    second = event_record(merchant_id=merchant.id, aggregate_type="payment", aggregate_id="pay_A", type="t", data={})
    other = event_record(merchant_id=merchant.id, aggregate_type="payment", aggregate_id="pay_B", type="t", data={})

    assert (first.sequence, second.sequence, other.sequence) == (1, 2, 1)
    with pytest.raises(DatabaseError), transaction.atomic():
        DomainEvent.objects.create(
            merchant_id=merchant.id, aggregate_type="payment", aggregate_id="pay_A", sequence=2, type="t", data={}
        )
