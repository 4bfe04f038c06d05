"""A wallet as a payment method: the services the payments app calls inside its own transaction."""

import pytest
from django.db import transaction

from core.errors import InsufficientFunds, ValidationFailed
from events.models import DomainEvent
from ledger import chart
from ledger.errors import ReferenceConflict
from ledger.models import Account, JournalEntry
from ledger.verification import verify
from tests.wallets.factories import MovementFactory, WalletFactory
from tests.wallets.helpers import balances
from wallets import services
from wallets.errors import AmountExceedsReserved, CurrencyMismatch, MovementNotRevertible, WalletNotFound
from wallets.models import Movement, MovementType

pytestmark = pytest.mark.django_db


@pytest.fixture
def wallet():
    """A BRL wallet holding 100.00, all of it available."""
    wallet = WalletFactory()
    MovementFactory(wallet=wallet, amount=10_000)
    return wallet


def _reserve(wallet, amount: int, reference: str = "payment:pay_1:wallet_reserve", **overrides) -> str:
    arguments = {"merchant_id": wallet.merchant_id, "wallet_id": wallet.id, "amount": amount, "currency": "BRL"}
    return services.wallet_reserve(**{**arguments, **overrides}, reference=reference)


def _capture(wallet, amount: int, reference: str = "payment:pay_1:wallet_capture") -> str:
    return services.wallet_capture_reservation(
        wallet_id=wallet.id,
        amount=amount,
        merchant_payable_account_code=chart.merchant_payable_code(wallet.merchant_id),
        reference=reference,
    )


def _payable(wallet) -> int:
    """What the platform owes the wallet's merchant, on the account's natural side."""
    account = Account.objects.get(code=chart.merchant_payable_code(wallet.merchant_id), currency=wallet.currency)
    return account.natural_balance


def _entries() -> int:
    return JournalEntry.objects.count()


# --- reserve ---------------------------------------------------------------------------------------
def test_reserving_holds_funds_out_of_the_available_balance(wallet):
    entry_id = _reserve(wallet, 3_000)

    assert balances(wallet) == (10_000, 7_000)
    assert JournalEntry.objects.get(pk=entry_id).entry_type == "wallet.reserve"
    assert Movement.objects.filter(wallet=wallet).count() == 1  # the balance did not change: no movement
    assert verify() == []


def test_a_retried_reservation_returns_the_same_entry_and_reserves_once(wallet):
    first = _reserve(wallet, 3_000)
    entries = _entries()

    again = _reserve(wallet, 3_000)

    assert again == first
    assert _entries() == entries
    assert balances(wallet) == (10_000, 7_000)


def test_the_same_reference_for_another_amount_is_a_bug_and_refused(wallet):
    _reserve(wallet, 3_000)

    with pytest.raises(ReferenceConflict):
        _reserve(wallet, 4_000)

    assert balances(wallet) == (10_000, 7_000)


def test_reserving_more_than_available_is_insufficient_funds(wallet):
    _reserve(wallet, 6_000, reference="payment:pay_1:wallet_reserve")
    entries = _entries()

    with pytest.raises(InsufficientFunds) as refused:
        _reserve(wallet, 4_001, reference="payment:pay_2:wallet_reserve")

    assert (refused.value.status, refused.value.code) == (409, "insufficient_funds")
    assert "40.00 BRL available" in refused.value.detail
    assert _entries() == entries
    assert balances(wallet) == (10_000, 4_000)


def test_another_merchants_wallet_cannot_be_reserved(wallet, other_merchant):
    with pytest.raises(WalletNotFound) as refused:
        _reserve(wallet, 1_000, merchant_id=other_merchant.id)

    assert refused.value.status == 404
    assert balances(wallet) == (10_000, 10_000)


def test_a_reservation_in_another_currency_is_refused(wallet):
    with pytest.raises(CurrencyMismatch) as refused:
        _reserve(wallet, 1_000, currency="USD")

    assert (refused.value.status, refused.value.code) == (400, "currency_mismatch")
    assert balances(wallet) == (10_000, 10_000)


@pytest.mark.parametrize("amount", [0, -1_000, 10.0, True, "1000", 100_000_000_000])
def test_amounts_that_are_not_positive_integers_are_refused(wallet, amount):
    with pytest.raises(ValidationFailed):
        _reserve(wallet, amount)
    with pytest.raises(ValidationFailed):
        services.wallet_release(wallet_id=wallet.id, amount=amount, reference="r")
    with pytest.raises(ValidationFailed):
        _capture(wallet, amount)
    with pytest.raises(ValidationFailed):
        services.wallet_refund(wallet_id=wallet.id, amount=amount, reference="r")

    assert balances(wallet) == (10_000, 10_000)


def test_a_refusal_leaves_the_callers_transaction_usable(wallet):
    with transaction.atomic():
        with pytest.raises(InsufficientFunds):
            _reserve(wallet, 20_000, reference="payment:pay_1:wallet_reserve")
        entry_id = _reserve(wallet, 2_000, reference="payment:pay_2:wallet_reserve")

    assert JournalEntry.objects.filter(pk=entry_id).exists()
    assert balances(wallet) == (10_000, 8_000)


def test_a_reservation_rolls_back_with_the_callers_transaction(wallet):
    class PaymentFailed(Exception):
        pass

    with pytest.raises(PaymentFailed), transaction.atomic():
        _reserve(wallet, 2_000)
        raise PaymentFailed

    assert balances(wallet) == (10_000, 10_000)
    assert not JournalEntry.objects.filter(reference="payment:pay_1:wallet_reserve").exists()


# --- release ---------------------------------------------------------------------------------------
def test_releasing_returns_reserved_funds_to_the_available_balance_once(wallet):
    _reserve(wallet, 3_000)

    first = services.wallet_release(wallet_id=wallet.id, amount=3_000, reference="payment:pay_1:wallet_release")
    again = services.wallet_release(wallet_id=wallet.id, amount=3_000, reference="payment:pay_1:wallet_release")

    assert again == first
    assert balances(wallet) == (10_000, 10_000)
    assert verify() == []


def test_releasing_more_than_is_reserved_is_refused(wallet):
    _reserve(wallet, 3_000)

    with pytest.raises(AmountExceedsReserved) as refused:
        services.wallet_release(wallet_id=wallet.id, amount=3_001, reference="payment:pay_1:wallet_release")

    assert (refused.value.status, refused.value.code) == (409, "amount_exceeds_reserved")
    assert balances(wallet) == (10_000, 7_000)


# --- capture ---------------------------------------------------------------------------------------
def test_capturing_pays_the_merchant_from_the_reservation_and_records_an_expense(wallet):
    _reserve(wallet, 3_000)

    entry_id = _capture(wallet, 3_000)

    assert balances(wallet) == (7_000, 7_000)
    assert _payable(wallet) == 3_000
    movement = Movement.objects.get(entry_id=entry_id)
    assert (movement.type, movement.amount, movement.reference) == ("expense", 3_000, "payment:pay_1:wallet_capture")
    event = DomainEvent.objects.filter(aggregate_id=wallet.id).latest("sequence")
    assert (event.type, event.data["object"]["id"]) == ("wallet.movement_created", movement.id)
    assert verify() == []


def test_a_retried_capture_returns_the_same_entry_and_records_one_movement(wallet):
    _reserve(wallet, 3_000)
    first = _capture(wallet, 3_000)

    again = _capture(wallet, 3_000)

    assert again == first
    assert Movement.objects.filter(wallet=wallet, type=MovementType.EXPENSE).count() == 1
    assert DomainEvent.objects.filter(aggregate_id=wallet.id).count() == 2
    assert balances(wallet) == (7_000, 7_000)
    assert _payable(wallet) == 3_000


def test_a_partial_capture_leaves_the_rest_reserved_until_released(wallet):
    _reserve(wallet, 3_000)

    _capture(wallet, 2_000)
    assert balances(wallet) == (8_000, 7_000)
    services.wallet_release(wallet_id=wallet.id, amount=1_000, reference="payment:pay_1:wallet_release")

    assert balances(wallet) == (8_000, 8_000)
    assert _payable(wallet) == 2_000
    assert verify() == []


def test_capturing_more_than_is_reserved_is_refused(wallet):
    _reserve(wallet, 3_000)

    with pytest.raises(AmountExceedsReserved):
        _capture(wallet, 3_001)

    assert balances(wallet) == (10_000, 7_000)
    assert not Movement.objects.filter(type=MovementType.EXPENSE).exists()


def test_a_wallet_pays_only_its_own_merchant(wallet, other_merchant):
    _reserve(wallet, 3_000)

    with pytest.raises(ValidationFailed):
        services.wallet_capture_reservation(
            wallet_id=wallet.id,
            amount=3_000,
            merchant_payable_account_code=chart.merchant_payable_code(other_merchant.id),
            reference="payment:pay_1:wallet_capture",
        )

    assert balances(wallet) == (10_000, 7_000)


# --- refund ----------------------------------------------------------------------------------------
def test_a_refund_returns_money_from_the_merchant_to_the_available_balance_once(wallet):
    _reserve(wallet, 3_000)
    _capture(wallet, 3_000)

    first = services.wallet_refund(wallet_id=wallet.id, amount=1_000, reference="refund:re_1:wallet")
    again = services.wallet_refund(wallet_id=wallet.id, amount=1_000, reference="refund:re_1:wallet")

    assert again == first
    assert balances(wallet) == (8_000, 8_000)
    assert _payable(wallet) == 2_000
    movement = Movement.objects.get(entry_id=first)
    assert (movement.type, movement.amount, movement.reference) == ("income", 1_000, "refund:re_1:wallet")
    assert verify() == []


def test_movements_of_payments_are_undone_by_refunding_not_by_reverting(wallet):
    _reserve(wallet, 3_000)
    capture = Movement.objects.get(entry_id=_capture(wallet, 3_000))
    refund = Movement.objects.get(entry_id=services.wallet_refund(wallet_id=wallet.id, amount=3_000, reference="r:1"))

    for movement in (capture, refund):
        with pytest.raises(MovementNotRevertible):
            services.movement_revert(merchant_id=wallet.merchant_id, movement_id=movement.id, reason="undo")

    assert balances(wallet) == (10_000, 10_000)
