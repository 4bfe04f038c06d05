"""Whatever sequence of operations a wallet goes through, its balances are what the accepted
operations add up to, the refused ones change nothing, and the books verify clean."""

from dataclasses import dataclass, field

import pytest
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.errors import InsufficientFunds
from ledger import chart
from ledger.verification import verify
from tests.factories import MerchantFactory
from tests.ledger.conftest import check_deferred_constraints
from tests.wallets.helpers import balances
from wallets import services
from wallets.errors import AlreadyReverted, AmountExceedsReserved, MovementNotRevertible
from wallets.models import Movement, MovementType

pytestmark = pytest.mark.django_db

amounts = st.integers(min_value=1, max_value=5_000)
picks = st.integers(min_value=0, max_value=1_000)  # which earlier movement or call, modulo how many

operations = st.lists(
    st.one_of(
        st.tuples(st.just("income"), amounts),
        st.tuples(st.just("expense"), amounts),
        st.tuples(st.just("revert"), picks),
        st.tuples(st.just("reserve"), amounts),
        st.tuples(st.just("release"), amounts),
        st.tuples(st.just("capture"), amounts),
        st.tuples(st.just("refund"), amounts),
        st.tuples(st.just("retry"), picks),
    ),
    max_size=30,
)


@dataclass
class Expected:
    """What the wallet should hold, computed from the rules alone."""

    available: int = 0
    reserved: int = 0
    refundable: int = 0  # captured and not yet refunded: the payments app's limit on refunds
    movements: dict[str, int] = field(default_factory=dict)  # id -> signed amount
    # id -> "open" (an income or expense, revertible), "reverted", "revert" or "payment"
    kinds: dict[str, str] = field(default_factory=dict)
    payment_calls: list = field(default_factory=list)  # (service, arguments, entry id), to retry


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=operations)
def test_any_sequence_of_wallet_operations_keeps_balances_equal_to_accepted_movements(operations):
    with transaction.atomic():
        merchant = MerchantFactory()
        wallet = services.wallet_create(merchant_id=merchant.id, currency="BRL")
        expected = Expected()
        payable = chart.merchant_payable_code(merchant.id)

        def movement(type_: str, amount: int) -> None:
            if type_ == "expense" and amount > expected.available:
                with pytest.raises(InsufficientFunds):
                    services.movement_create(merchant_id=merchant.id, wallet_id=wallet.id, type=type_, amount=amount)
                return
            created = services.movement_create(merchant_id=merchant.id, wallet_id=wallet.id, type=type_, amount=amount)
            expected.available += amount if type_ == "income" else -amount
            expected.movements[created.id] = amount if type_ == "income" else -amount
            expected.kinds[created.id] = "open"

        def revert(pick: int) -> None:
            if not expected.movements:
                return
            target = sorted(expected.movements)[pick % len(expected.movements)]
            signed = expected.movements[target]
            if expected.kinds[target] != "open":
                with pytest.raises(AlreadyReverted if expected.kinds[target] == "reverted" else MovementNotRevertible):
                    services.movement_revert(merchant_id=merchant.id, movement_id=target, reason="property")
                return
            if signed > expected.available:  # taking back an income that was spent
                with pytest.raises(InsufficientFunds):
                    services.movement_revert(merchant_id=merchant.id, movement_id=target, reason="property")
                return
            created = services.movement_revert(merchant_id=merchant.id, movement_id=target, reason="property")
            expected.available -= signed
            expected.movements[created.id] = -signed
            expected.kinds.update({target: "reverted", created.id: "revert"})

        def payment_call(number: int, kind: str, amount: int) -> None:
            reference = f"payment:{number}:{kind}"
            service, arguments = {
                "reserve": (
                    services.wallet_reserve,
                    {"merchant_id": merchant.id, "wallet_id": wallet.id, "amount": amount, "currency": "BRL"},
                ),
                "release": (services.wallet_release, {"wallet_id": wallet.id, "amount": amount}),
                "capture": (
                    services.wallet_capture_reservation,
                    {"wallet_id": wallet.id, "amount": amount, "merchant_payable_account_code": payable},
                ),
                "refund": (services.wallet_refund, {"wallet_id": wallet.id, "amount": amount}),
            }[kind]
            if kind == "refund" and amount > expected.refundable:
                return  # the payments app never asks for it
            limit = expected.available if kind == "reserve" else expected.reserved
            if kind != "refund" and amount > limit:
                with pytest.raises(InsufficientFunds if kind == "reserve" else AmountExceedsReserved):
                    service(**arguments, reference=reference)
                return
            entry_id = service(**arguments, reference=reference)
            expected.payment_calls.append((service, {**arguments, "reference": reference}, entry_id))
            if kind == "reserve":
                expected.available, expected.reserved = expected.available - amount, expected.reserved + amount
            elif kind == "release":
                expected.available, expected.reserved = expected.available + amount, expected.reserved - amount
            elif kind == "capture":
                expected.reserved -= amount
                expected.refundable += amount
            else:
                expected.available += amount
                expected.refundable -= amount
            if kind in ("capture", "refund"):
                made = Movement.objects.get(entry_id=entry_id)
                expected.movements[made.id] = amount if kind == "refund" else -amount
                expected.kinds[made.id] = "payment"

        for number, (kind, argument) in enumerate(operations):
            if kind in ("income", "expense"):
                movement(kind, argument)
            elif kind == "revert":
                revert(argument)
            elif kind == "retry":
                if expected.payment_calls:
                    service, arguments, entry_id = expected.payment_calls[argument % len(expected.payment_calls)]
                    assert service(**arguments) == entry_id  # already done: same entry, nothing more
            else:
                payment_call(number, kind, argument)
            assert balances(wallet) == (expected.available + expected.reserved, expected.available)

        recorded = {
            movement_id: amount if type_ == MovementType.INCOME else -amount
            for movement_id, type_, amount in Movement.objects.filter(wallet=wallet).values_list("id", "type", "amount")
        }
        assert recorded == expected.movements
        assert sum(recorded.values()) == expected.available + expected.reserved
        check_deferred_constraints()  # the database's own verdict on every entry, as at commit
        assert verify() == []
        transaction.set_rollback(True)
