"""Races on real PostgreSQL with real threads, each with its own connection, committing for real:
what is in the database afterwards is what counts."""

from collections import Counter

import pytest

from core.errors import InsufficientFunds
from ledger.verification import verify
from tests.payments.helpers import client_for, post, run_concurrently
from tests.wallets.factories import MovementFactory, WalletFactory
from tests.wallets.helpers import balances
from wallets import services
from wallets.errors import AlreadyReverted
from wallets.models import Movement, MovementType

pytestmark = pytest.mark.django_db(transaction=True)

FUNDED = 10_000


def test_fifty_concurrent_expenses_never_overdraw_the_wallet(api_key, merchant):
    wallet = WalletFactory(merchant=merchant)
    MovementFactory(wallet=wallet, amount=FUNDED)
    amounts = [150 + 10 * index for index in range(50)]  # 50 expenses asking for 43,750 in all

    def spend(index: int):
        response = post(
            client_for(api_key), f"/wallets/{wallet.id}/movements", {"type": "expense", "amount": amounts[index]}
        )
        return response.status_code, response.json()

    answers = run_concurrently(50, spend)

    assert Counter(status for status, _ in answers).keys() <= {201, 409}
    accepted = {body["id"]: body["amount"] for status, body in answers if status == 201}
    refused = [amounts[index] for index, (status, body) in enumerate(answers) if status == 409]
    assert all(body["code"] == "insufficient_funds" for status, body in answers if status == 409)
    assert accepted and refused
    balance, available = balances(wallet)
    assert available == balance == FUNDED - sum(accepted.values())
    assert available >= 0
    # The available balance only went down, so each refused expense was larger than what is left.
    assert min(refused) > available
    expenses = Movement.objects.filter(wallet=wallet, type=MovementType.EXPENSE)
    assert dict(expenses.values_list("id", "amount")) == accepted
    assert verify() == []


def test_concurrent_reverts_of_one_movement_revert_it_once(merchant):
    wallet = WalletFactory(merchant=merchant)
    income = MovementFactory(wallet=wallet, amount=FUNDED)

    def revert(_):
        try:
            return services.movement_revert(merchant_id=merchant.id, movement_id=income.id, reason="duplicate").id
        except AlreadyReverted as exc:
            return exc

    results = run_concurrently(10, revert)

    reverts = [result for result in results if isinstance(result, str)]
    assert len(reverts) == 1
    assert Movement.objects.filter(reverts=income).count() == 1
    assert balances(wallet) == (0, 0)
    assert verify() == []


def test_reservations_and_expenses_racing_for_the_same_money_never_overdraw(merchant):
    wallet = WalletFactory(merchant=merchant)
    MovementFactory(wallet=wallet, amount=FUNDED)

    def take(index: int):
        try:
            if index % 2:
                services.wallet_reserve(
                    merchant_id=merchant.id, wallet_id=wallet.id, amount=1_000, currency="BRL", reference=f"p:{index}"
                )
                return "reserved"
            services.movement_create(merchant_id=merchant.id, wallet_id=wallet.id, type="expense", amount=1_000)
            return "spent"
        except InsufficientFunds:
            return "refused"

    outcomes = Counter(run_concurrently(20, take))

    assert outcomes["reserved"] + outcomes["spent"] == 10
    assert outcomes["refused"] == 10
    assert balances(wallet) == (FUNDED - 1_000 * outcomes["spent"], 0)
    assert verify() == []
