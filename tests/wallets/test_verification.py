"""`ledger_verify` also checks the wallets: the books must explain every wallet's balance."""

import io

import pytest
from django.core.management import call_command

from ledger import chart
from ledger.models import AccountType
from ledger.services import PostingLine, account_get_or_create, entry_post, platform_account_get_or_create
from ledger.verification import verify
from tests.wallets.factories import MovementFactory, WalletFactory
from wallets import accounts, services
from wallets.models import Movement, MovementType

pytestmark = pytest.mark.django_db


def _post_around_the_wallet_services(wallet, amount: int, reference: str) -> None:
    """What a bug or a hand-made entry could do: move a wallet's money without a movement and
    without its floor. Positive amounts take money out of the wallet."""
    bank = platform_account_get_or_create(code=chart.PLATFORM_BANK, currency=wallet.currency)
    entry_post(
        reference=reference,
        entry_type="test.by_hand",
        lines=[
            PostingLine(account=accounts.available_account(wallet), amount=amount),
            PostingLine(account=bank, amount=-amount),
        ],
    )


def test_wallets_used_every_way_verify_clean_and_the_command_says_so(merchant):
    wallet = WalletFactory(merchant=merchant)
    MovementFactory(wallet=wallet, amount=10_000)
    expense = MovementFactory(wallet=wallet, type=MovementType.EXPENSE, amount=2_000)
    services.wallet_reserve(merchant_id=merchant.id, wallet_id=wallet.id, amount=5_000, currency="BRL", reference="p:1")
    services.wallet_capture_reservation(
        wallet_id=wallet.id,
        amount=4_000,
        merchant_payable_account_code=chart.merchant_payable_code(merchant.id),
        reference="p:2",
    )
    services.wallet_release(wallet_id=wallet.id, amount=1_000, reference="p:3")
    services.wallet_refund(wallet_id=wallet.id, amount=500, reference="p:4")
    services.movement_revert(merchant_id=merchant.id, movement_id=expense.id, reason="charged twice")
    out = io.StringIO()

    assert verify() == []
    call_command("ledger_verify", stdout=out)
    assert "ledger OK" in out.getvalue()


def test_money_moved_without_a_movement_is_found(merchant):
    wallet = WalletFactory(merchant=merchant)
    MovementFactory(wallet=wallet, amount=1_000)

    _post_around_the_wallet_services(wallet, -250, reference="by-hand:1")

    assert verify() == [f"wallet {wallet.id}: the ledger holds 12.50 BRL but its movements add up to 10.00 BRL"]


def test_a_wallet_below_zero_is_found(merchant):
    wallet = WalletFactory(merchant=merchant)

    _post_around_the_wallet_services(wallet, 100, reference="by-hand:1")

    problems = verify()
    assert f"wallet account wallet:{wallet.id} (BRL) is below zero: -1.00 BRL" in problems


def test_a_movement_whose_entry_moved_another_amount_is_found(merchant):
    wallet = WalletFactory(merchant=merchant)
    MovementFactory(wallet=wallet, amount=1_000)
    reserve = services.wallet_reserve(
        merchant_id=merchant.id, wallet_id=wallet.id, amount=400, currency="BRL", reference="p:1"
    )
    # A movement pointing at an entry that moved no money in or out of the wallet.
    bogus = Movement.objects.create(wallet=wallet, type=MovementType.INCOME, amount=400, entry_id=reserve)

    problems = verify()

    assert f"movement {bogus.id} (income of 400): its entry {reserve} moved the wallet's balance by 0" in problems


def test_wallet_checks_ignore_accounts_of_other_owners(merchant):
    payable = account_get_or_create(
        code=chart.merchant_payable_code(merchant.id), currency="BRL", type=AccountType.LIABILITY, name="payable"
    )
    bank = platform_account_get_or_create(code=chart.PLATFORM_BANK, currency="BRL")
    entry_post(
        reference="payout:1",
        entry_type="merchant.payout",
        lines=[PostingLine(account=payable, amount=500), PostingLine(account=bank, amount=-500)],
    )

    assert verify() == []
