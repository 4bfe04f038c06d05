import importlib

import pytest
from django.apps import apps

from core.errors import NotFound
from ledger import chart
from ledger.errors import (
    AlreadyReversed,
    DuplicateEntry,
    InsufficientBalance,
    InvalidAccount,
    InvalidEntry,
    ReferenceConflict,
)
from ledger.models import Account, AccountType, JournalEntry, NormalBalance
from ledger.selectors import account_balance, account_get, entry_get
from ledger.services import (
    PostingLine,
    account_get_or_create,
    entry_post,
    entry_reverse,
    platform_account_get_or_create,
)
from tests.ledger.factories import AccountFactory, JournalEntryFactory, LiabilityAccountFactory


@pytest.fixture
def capture_accounts():
    receivable = platform_account_get_or_create(code=chart.provider_receivable_code("cielo"), currency="BRL")
    payable = account_get_or_create(
        code=chart.merchant_payable_code("mer_1"), currency="BRL", type=AccountType.LIABILITY, name="Merchant 1"
    )
    fees = platform_account_get_or_create(code=chart.PLATFORM_FEES, currency="BRL")
    return receivable, payable, fees


def _capture(receivable, payable, fees, *, reference="payment:pay_1:capture", gross=10_000, fee=300):
    return entry_post(
        reference=reference,
        entry_type="payment.capture",
        lines=[
            PostingLine(account=receivable, amount=gross),
            PostingLine(account=payable, amount=-gross),
            PostingLine(account=payable, amount=fee),
            PostingLine(account=fees, amount=-fee),
        ],
        metadata={"payment_id": "pay_1"},
    )


def _refresh(*accounts):
    for account in accounts:
        account.refresh_from_db()


def test_a_balanced_entry_is_stored_with_its_postings_and_moves_the_balances(capture_accounts):
    receivable, payable, fees = capture_accounts

    entry = _capture(receivable, payable, fees)

    _refresh(receivable, payable, fees)
    assert (receivable.balance, payable.balance, fees.balance) == (10_000, -9_700, -300)
    # Read on their normal side: the provider owes us 100.00, we owe the merchant 97.00, we earned 3.00.
    assert (receivable.natural_balance, payable.natural_balance, fees.natural_balance) == (10_000, 9_700, 300)
    assert (receivable.version, payable.version, fees.version) == (1, 1, 1)
    postings = list(entry.postings.order_by("pk").values_list("account_id", "amount", "currency", "created_at"))
    assert postings == [
        (receivable.pk, 10_000, "BRL", entry.created_at),
        (payable.pk, -10_000, "BRL", entry.created_at),
        (payable.pk, 300, "BRL", entry.created_at),
        (fees.pk, -300, "BRL", entry.created_at),
    ]
    assert entry_get(reference="payment:pay_1:capture") == entry
    assert entry.metadata == {"payment_id": "pay_1"}


def test_an_entry_balances_per_currency_not_only_in_total():
    brl_bank, brl_payable = AccountFactory(currency="BRL"), LiabilityAccountFactory(currency="BRL")
    usd_bank, usd_payable = AccountFactory(currency="USD"), LiabilityAccountFactory(currency="USD")

    entry_post(
        reference="fx:1",
        entry_type="test.two_currencies",
        lines=[
            PostingLine(account=brl_bank, amount=500),
            PostingLine(account=brl_payable, amount=-500),
            PostingLine(account=usd_bank, amount=100),
            PostingLine(account=usd_payable, amount=-100),
        ],
    )
    with pytest.raises(InvalidEntry, match="does not balance"):
        entry_post(
            reference="fx:2",
            entry_type="test.two_currencies",
            lines=[PostingLine(account=brl_bank, amount=100), PostingLine(account=usd_payable, amount=-100)],
        )

    _refresh(brl_bank, usd_payable)
    assert (brl_bank.balance, usd_payable.balance) == (500, -100)


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        ((1000, -999), "does not balance"),
        ((1000,), "at least two postings"),
        ((1000, 0, -1000), "non-zero integer"),
        ((10.5, -10.5), "non-zero integer"),
        ((True, -1), "non-zero integer"),
    ],
)
def test_an_invalid_entry_is_refused_and_changes_nothing(amounts, message):
    accounts = AccountFactory.create_batch(len(amounts))

    with pytest.raises(InvalidEntry, match=message):
        entry_post(
            reference="bad:1",
            entry_type="test.bad",
            lines=[PostingLine(account=a, amount=amount) for a, amount in zip(accounts, amounts, strict=True)],
        )

    assert not JournalEntry.objects.exists()
    assert set(Account.objects.filter(pk__in=[a.pk for a in accounts]).values_list("balance", "version")) == {(0, 0)}


def test_a_retry_with_the_same_reference_is_refused_and_carries_the_first_entry(capture_accounts):
    receivable, payable, fees = capture_accounts
    first = _capture(receivable, payable, fees)

    with pytest.raises(DuplicateEntry) as refused:
        _capture(receivable, payable, fees)

    assert refused.value.entry == first
    _refresh(receivable, payable, fees)
    assert (receivable.balance, payable.balance, fees.balance) == (10_000, -9_700, -300)
    # The refusal rolled back only its own savepoint: the caller's transaction carries on.
    _capture(receivable, payable, fees, reference="payment:pay_2:capture")
    assert JournalEntry.objects.count() == 2


def test_a_reference_reused_for_different_postings_is_a_conflict_not_a_retry(capture_accounts):
    receivable, payable, fees = capture_accounts
    first = _capture(receivable, payable, fees, gross=10_000)

    with pytest.raises(ReferenceConflict) as refused:
        _capture(receivable, payable, fees, gross=20_000)

    assert refused.value.entry == first
    _refresh(receivable)
    assert receivable.balance == 10_000


def test_a_reversal_posts_the_exact_opposite_and_points_at_the_original(capture_accounts):
    receivable, payable, fees = capture_accounts
    original = _capture(receivable, payable, fees)

    reversal = entry_reverse(entry=original, reference="payment:pay_1:capture:reversal", reason="captured twice")

    assert reversal.reverses == original
    assert original.reversed_by == reversal
    assert reversal.entry_type == "payment.capture.reversal"
    assert reversal.description == "captured twice"
    assert sorted(reversal.postings.values_list("account_id", "amount")) == sorted(
        (account_id, -amount) for account_id, amount in original.postings.values_list("account_id", "amount")
    )
    _refresh(receivable, payable, fees)
    assert (receivable.balance, payable.balance, fees.balance) == (0, 0, 0)
    assert (receivable.version, payable.version, fees.version) == (2, 2, 2)


def test_an_entry_is_reversed_at_most_once(capture_accounts):
    original = _capture(*capture_accounts)
    reversal = entry_reverse(entry=original, reference="reversal:1", reason="mistake")

    with pytest.raises(DuplicateEntry) as retried:
        entry_reverse(entry=original, reference="reversal:1", reason="mistake")
    with pytest.raises(AlreadyReversed) as refused:
        entry_reverse(entry=original, reference="reversal:2", reason="mistake again")

    assert retried.value.entry == reversal
    assert (refused.value.entry, refused.value.reversal) == (original, reversal)
    assert JournalEntry.objects.filter(reverses=original).count() == 1
    receivable = capture_accounts[0]
    _refresh(receivable)
    assert receivable.balance == 0


def test_a_reversal_needs_a_reason(capture_accounts):
    original = _capture(*capture_accounts)

    with pytest.raises(InvalidEntry, match="reason"):
        entry_reverse(entry=original, reference="reversal:1", reason="")


def test_balance_as_of_a_moment_counts_only_the_entries_made_by_then():
    bank, payable = AccountFactory(), LiabilityAccountFactory()
    first = JournalEntryFactory(debit=bank, credit=payable, amount=1_000)
    second = JournalEntryFactory(debit=bank, credit=payable, amount=250)
    assert first.created_at < second.created_at

    assert account_balance(account=bank) == 1_250
    assert account_balance(account=payable) == -1_250
    assert account_balance(account=bank, as_of=first.created_at) == 1_000
    assert account_balance(account=payable, as_of=second.created_at) == -1_250
    assert account_balance(account=bank, as_of=first.created_at.replace(year=2000)) == 0


def test_a_floor_refuses_an_entry_that_would_overdraw_a_wallet_and_keeps_it_unchanged():
    bank = platform_account_get_or_create(code=chart.PLATFORM_BANK, currency="BRL")
    wallet = account_get_or_create(
        code=chart.wallet_code("wal_1"), currency="BRL", type=AccountType.LIABILITY, name="Wallet 1"
    )
    JournalEntryFactory(debit=bank, credit=wallet, amount=1_000)  # top-up: the wallet holds 10.00

    def withdraw(amount, reference):
        return entry_post(
            reference=reference,
            entry_type="wallet.withdrawal",
            lines=[PostingLine(account=wallet, amount=amount), PostingLine(account=bank, amount=-amount)],
            floor={wallet: 0},
        )

    withdraw(600, "withdrawal:1")
    with pytest.raises(InsufficientBalance) as refused:
        withdraw(600, "withdrawal:2")

    assert (refused.value.account, refused.value.balance, refused.value.floor) == (wallet, -200, 0)
    assert refused.value.code == "insufficient_funds"
    assert account_balance(account=wallet) * wallet.normal_sign == 400
    assert entry_get(reference="withdrawal:2") is None
    withdraw(400, "withdrawal:3")
    assert account_balance(account=wallet) == 0
    with pytest.raises(DuplicateEntry):  # a retry of a withdrawal that went through is done, not refused
        withdraw(400, "withdrawal:3")


def test_a_floor_never_blocks_paying_into_an_account_already_below_it():
    bank, wallet = AccountFactory(), LiabilityAccountFactory()
    JournalEntryFactory(debit=wallet, credit=bank, amount=500)  # the wallet is 5.00 short

    entry_post(
        reference="top-up:1",
        entry_type="wallet.top_up",
        lines=[PostingLine(account=bank, amount=200), PostingLine(account=wallet, amount=-200)],
        floor={wallet: 0},
    )

    wallet.refresh_from_db()
    assert wallet.natural_balance == -300


def test_a_floor_must_name_an_account_the_entry_posts_to():
    bank, wallet, other = AccountFactory(), LiabilityAccountFactory(), LiabilityAccountFactory()

    with pytest.raises(InvalidEntry, match="floor"):
        entry_post(
            reference="e:1",
            entry_type="test",
            lines=[PostingLine(account=bank, amount=1), PostingLine(account=wallet, amount=-1)],
            floor={other: 0},
        )


def test_card_numbers_never_enter_the_ledger():
    bank, payable = AccountFactory(), LiabilityAccountFactory()

    with pytest.raises(InvalidEntry, match=r"metadata\.note"):
        entry_post(
            reference="e:1",
            entry_type="test",
            lines=[PostingLine(account=bank, amount=1), PostingLine(account=payable, amount=-1)],
            metadata={"note": "card 4111 1111 1111 1111"},
        )


def test_accounts_are_created_once_and_keep_their_meaning():
    code = chart.merchant_payable_code("mer_1")
    first = account_get_or_create(code=code, currency="BRL", type=AccountType.LIABILITY, name="Merchant 1")
    again = account_get_or_create(code=code, currency="BRL", type=AccountType.LIABILITY, name="renamed")
    other_currency = account_get_or_create(code=code, currency="USD", type=AccountType.LIABILITY, name="Merchant 1")

    assert again == first
    assert again.name == "Merchant 1"
    assert other_currency != first
    assert (first.type, first.normal_balance, first.balance) == (AccountType.LIABILITY, NormalBalance.CREDIT, 0)
    assert account_get(code=code, currency="USD") == other_currency
    with pytest.raises(InvalidAccount, match="exists as liability/credit"):
        account_get_or_create(code=code, currency="BRL", type=AccountType.ASSET, name="Merchant 1")
    with pytest.raises(InvalidAccount, match="currency"):
        account_get_or_create(code=code, currency="XXX", type=AccountType.LIABILITY, name="Merchant 1")
    with pytest.raises(InvalidAccount, match="form"):
        account_get_or_create(code="Merchant 1", currency="BRL", type=AccountType.LIABILITY, name="Merchant 1")
    with pytest.raises(NotFound):
        account_get(code=code, currency="EUR")


def test_platform_accounts_exist_in_brl_and_usd_and_in_other_currencies_on_first_use():
    # Run the data migration's function here: transactional tests elsewhere empty the tables.
    migration = importlib.import_module("ledger.migrations.0003_platform_accounts")
    migration.create_platform_accounts(apps, None)
    migration.create_platform_accounts(apps, None)  # and again: it is safe to re-run

    seeded = set(Account.objects.values_list("code", "currency", "type", "normal_balance"))
    for currency in ("BRL", "USD"):
        for spec in chart.PLATFORM_ACCOUNTS:
            assert (spec.code, currency, spec.type, spec.normal_balance) in seeded
    assert ("provider:getnet:receivable", "USD", "asset", "debit") in seeded
    assert not Account.objects.filter(currency="EUR").exists()

    fees_eur = platform_account_get_or_create(code=chart.PLATFORM_FEES, currency="EUR")

    assert (fees_eur.type, fees_eur.normal_balance) == (AccountType.REVENUE, NormalBalance.CREDIT)
    with pytest.raises(InvalidAccount):
        platform_account_get_or_create(code="platform:nonsense", currency="EUR")
