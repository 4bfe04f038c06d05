"""Settlement: captured payments the provider paid out move `captured -> settled`.

Reconciliation (the reconciliation app) decides which payments a settlement report paid and posts
the money to the ledger, one entry per provider, day and currency; this module only moves the
payments, each under its row lock and with its `payment.settled` event, in the same transaction.

A night's report can pay a million payments, so a batch is settled by one SQL statement on
PostgreSQL: it locks the batch's rows in primary-key order (the payment lock comes first, as
everywhere), skips any no longer `captured` (refunded, charged back, or settled by a retry),
updates the rest and writes their events. The statement applies the same rule as
`Payment.settle` and writes the same event data as `representations.payment_to_dict` (a test
compares them). Other databases (SQLite under `make run`) settle the batch one payment at a time
through `payment_settle`.
"""

from collections.abc import Sequence

from django.db import connection, transaction

from core import context
from events.services import event_record

from .locks import lock_payment
from .models import PaymentStatus
from .representations import payment_to_dict

SETTLED_EVENT = "payment.settled"
_CROCKFORD = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def payment_settle(*, payment_id: str) -> bool:
    """Settles one payment; False (and nothing changes) when it is not `captured`."""
    with transaction.atomic():
        payment = lock_payment(payment_id=payment_id)
        if payment.status != PaymentStatus.CAPTURED:
            return False
        payment.settle()
        payment.updated_at = payment.db_now
        payment.save(update_fields=["status", "updated_at"])
        event_record(
            merchant_id=payment.merchant_id,
            aggregate_type="payment",
            aggregate_id=payment.id,
            type=SETTLED_EVENT,
            data={"object": payment_to_dict(payment)},
        )
    return True


def payments_settle(*, payment_ids: Sequence[str]) -> list[str]:
    """Settles a batch in one transaction; returns the ids of the payments it settled (those that
    were `captured`)."""
    if not payment_ids:
        return []
    if connection.vendor != "postgresql":
        return [payment_id for payment_id in sorted(payment_ids) if payment_settle(payment_id=payment_id)]
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(
            _SETTLE_BATCH,
            {
                "ids": list(payment_ids),
                "captured": PaymentStatus.CAPTURED.value,
                "settled": PaymentStatus.SETTLED.value,
                "event_type": SETTLED_EVENT,
                "correlation_id": context.correlation_id.get() or "",
                "causation_id": context.causation_id.get() or "",
            },
        )
        return [row[0] for row in cursor.fetchall()]


def _crockford(expression: str, characters: int) -> str:
    """SQL for the last `characters` base-32 (Crockford) digits of a bigint expression."""
    return " || ".join(
        f"substr('{_CROCKFORD}', ((({expression}) >> {5 * (characters - 1 - i)}) & 31)::int + 1, 1)"
        for i in range(characters)
    )


def _rfc3339(column: str) -> str:
    """SQL for core.formats.rfc3339: UTC, milliseconds (truncated, as isoformat does), `Z`."""
    return f"""to_char({column} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')"""


# core.ids.new_event_id in SQL: `evt_` and a ULID, 48 bits of milliseconds then 80 random bits
# (taken from a random UUID's random positions).
_EVENT_ID = (
    "'evt_' || "
    + _crockford("(extract(epoch from statement_timestamp()) * 1000)::bigint", 10)
    + " || "
    + _crockford("('x' || substr(s.random_hex, 1, 10))::bit(40)::bigint", 8)
    + " || "
    + _crockford("('x' || substr(s.random_hex, 21, 10))::bit(40)::bigint", 8)
)

# representations.payment_to_dict in SQL: empty strings are null, timestamps RFC 3339.
_PAYMENT_OBJECT = f"""jsonb_build_object(
    'id', s.id, 'object', 'payment', 'status', s.status, 'amount', s.amount, 'currency', s.currency,
    'amount_capturable', s.amount_capturable, 'amount_captured', s.amount_captured,
    'amount_refunded', s.amount_refunded, 'capture_method', s.capture_method,
    'capture_before', {_rfc3339("s.capture_before")},
    'provider', NULLIF(s.provider, ''), 'provider_reference', NULLIF(s.provider_reference, ''),
    'payment_method', s.payment_method, 'reference', NULLIF(s.reference, ''),
    'description', NULLIF(s.description, ''), 'metadata', s.metadata,
    'failure_code', NULLIF(s.failure_code, ''), 'failure_message', NULLIF(s.failure_message, ''),
    'cancellation_reason', NULLIF(s.cancellation_reason, ''),
    'created_at', {_rfc3339("s.created_at")}, 'updated_at', {_rfc3339("s.updated_at")}
)"""

# The row locks are taken in primary-key order, and re-checked after they are granted (READ
# COMMITTED re-evaluates `status` on the locked row), so a payment refunded meanwhile is skipped.
# Each event takes the next sequence of its payment's stream, which the row lock makes safe.
_SETTLE_BATCH = f"""
WITH locked AS (
    SELECT id FROM payments_payment
    WHERE id = ANY(%(ids)s) AND status = %(captured)s
    ORDER BY id
    FOR UPDATE
), settled AS (
    -- by primary key, one row at a time: a join would read the whole table for a batch
    UPDATE payments_payment p SET status = %(settled)s, updated_at = statement_timestamp()
    WHERE p.id = ANY(ARRAY(SELECT id FROM locked))
    RETURNING p.*, replace(gen_random_uuid()::text, '-', '') AS random_hex
)
INSERT INTO events_domainevent
    (id, merchant_id, aggregate_type, aggregate_id, sequence, type, data, correlation_id, causation_id, occurred_at)
SELECT {_EVENT_ID}, s.merchant_id, 'payment', s.id,
    COALESCE(
        (SELECT max(e.sequence) FROM events_domainevent e WHERE e.aggregate_type = 'payment' AND e.aggregate_id = s.id),
        0
    ) + 1,
    %(event_type)s, jsonb_build_object('object', {_PAYMENT_OBJECT}),
    %(correlation_id)s, %(causation_id)s, statement_timestamp()
FROM settled s
ORDER BY s.id
RETURNING aggregate_id
"""  # noqa: S608 - built from constants; every value is a parameter
