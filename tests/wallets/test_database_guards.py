"""Wallet movements are append-only in the database itself: raw SQL, as a bug, a shell session or
another program could send, cannot change or remove one."""

import pytest
from django.db import IntegrityError, connection, transaction

from tests.wallets.factories import MovementFactory
from wallets.models import Movement

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE wallets_movement SET amount = 1 WHERE id = %s",
        "UPDATE wallets_movement SET description = 'edited' WHERE id = %s",
        "DELETE FROM wallets_movement WHERE id = %s",
    ],
)
def test_a_movement_can_never_be_changed_or_deleted(sql):
    movement = MovementFactory(amount=2_500, description="top-up")

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [movement.id])

    stored = Movement.objects.get(pk=movement.id)
    assert (stored.amount, stored.description) == (2_500, "top-up")
