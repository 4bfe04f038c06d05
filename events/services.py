import json
from datetime import UTC

from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.utils import timezone

from core import context, tracing
from core.ids import new_event_id

from .models import DomainEvent

# One round trip: the next sequence number is computed by the INSERT itself. (A parameter in a
# SELECT list is text to PostgreSQL, hence the cast to the jsonb column's type there.)
_APPEND = """
INSERT INTO events_domainevent
    (id, merchant_id, aggregate_type, aggregate_id, sequence, type, data, correlation_id, causation_id, trace_context)
SELECT %s, %s, %s, %s, COALESCE(MAX(sequence), 0) + 1, %s, {data}, %s, %s, {trace_context}
  FROM events_domainevent
 WHERE aggregate_type = %s AND aggregate_id = %s
RETURNING sequence, occurred_at
"""


def event_record(*, merchant_id: str, aggregate_type: str, aggregate_id: str, type: str, data: dict) -> DomainEvent:  # noqa: A002
    """Appends an event to an aggregate's stream.

    The caller must hold the aggregate's row lock (select_for_update) in the current transaction:
    that serialises writers, so max(sequence) + 1 is the next free number. The unique constraint
    on (aggregate, sequence) turns any writer that forgot the lock into an error, not a gap or a
    duplicate."""
    event = DomainEvent(
        id=new_event_id(),
        merchant_id=merchant_id,
        aggregate_type=aggregate_type,
        aggregate_id=aggregate_id,
        type=type,
        data=data,
        correlation_id=context.correlation_id.get() or "",
        causation_id=context.causation_id.get() or "",
        trace_context=tracing.current_carrier(),
    )
    # The active span (the request's, a task's) is what this event is about.
    tracing.annotate(**{f"{aggregate_type}.id": aggregate_id, "merchant.id": merchant_id})
    jsonb = "%s::jsonb" if connection.vendor == "postgresql" else "%s"
    with connection.cursor() as cursor:
        cursor.execute(
            _APPEND.format(data=jsonb, trace_context=jsonb),
            [
                event.id,
                merchant_id,
                aggregate_type,
                aggregate_id,
                type,
                json.dumps(data, cls=DjangoJSONEncoder),
                event.correlation_id,
                event.causation_id,
                None if event.trace_context is None else json.dumps(event.trace_context),
                aggregate_type,
                aggregate_id,
            ],
        )
        event.sequence, occurred_at = cursor.fetchone()
    # PostgreSQL returns a datetime; SQLite (make run) returns its text form.
    event.occurred_at = DomainEvent._meta.get_field("occurred_at").to_python(occurred_at)
    if timezone.is_naive(event.occurred_at):
        event.occurred_at = timezone.make_aware(event.occurred_at, UTC)
    event._state.adding = False
    return event
