"""Real threads, each with its own database connection, committing for real."""

import threading
from collections.abc import Callable

from django.db import connection, transaction

from ledger.errors import DuplicateEntry, InsufficientBalance
from ledger.models import Account, AccountType, Posting
from ledger.services import PostingLine, entry_post
from ledger.verification import verify
from tests.ledger.factories import AccountFactory, JournalEntryFactory, LiabilityAccountFactory


def _run_together(count: int, work: Callable[[int], object]) -> list[object]:
    """Runs work(0..count-1) in as many threads, released at once; returns each result or exception."""
    results: list[object] = [None] * count
    start = threading.Barrier(count)

    def run(index: int) -> None:
        try:
            start.wait()
            with transaction.atomic():
                results[index] = work(index)
        except Exception as exc:
            results[index] = exc
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(index,)) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return results


def test_concurrent_entries_on_the_same_accounts_keep_every_balance_equal_to_its_postings(transactional_db):
    bank = AccountFactory()
    payable = LiabilityAccountFactory()
    fees = AccountFactory(type=AccountType.REVENUE)

    def post(index: int) -> None:
        for round_ in range(5):
            amount = 100 + index
            lines = [
                PostingLine(account=bank, amount=amount),
                PostingLine(account=payable, amount=-(amount - 3)),
                PostingLine(account=fees, amount=-3),
            ]
            # Every thread names the accounts in another order: only locking in one fixed order
            # (by primary key) keeps them from deadlocking.
            shift = (index + round_) % 3
            entry_post(reference=f"concurrent:{index}:{round_}", entry_type="test", lines=lines[shift:] + lines[:shift])

    results = _run_together(20, post)

    assert [result for result in results if result is not None] == []
    expected_bank = sum(5 * (100 + index) for index in range(20))
    balances = dict(Account.objects.values_list("pk", "balance"))
    assert (balances[bank.pk], balances[payable.pk], balances[fees.pk]) == (expected_bank, -(expected_bank - 300), -300)
    assert Account.objects.get(pk=bank.pk).version == 100
    assert Posting.objects.count() == 300
    assert verify() == []


def test_a_floor_holds_when_withdrawals_race(transactional_db):
    bank, wallet = AccountFactory(), LiabilityAccountFactory()
    JournalEntryFactory(debit=bank, credit=wallet, amount=100)  # the wallet holds 1.00

    def withdraw(index: int) -> None:
        entry_post(
            reference=f"withdrawal:{index}",
            entry_type="wallet.withdrawal",
            lines=[PostingLine(account=wallet, amount=10), PostingLine(account=bank, amount=-10)],
            floor={wallet: 0},
        )

    results = _run_together(20, withdraw)

    assert results.count(None) == 10
    assert all(isinstance(result, InsufficientBalance) for result in results if result is not None)
    wallet.refresh_from_db()
    assert wallet.natural_balance == 0
    assert verify() == []


def test_concurrent_retries_of_one_entry_post_it_once(transactional_db):
    bank, payable = AccountFactory(), LiabilityAccountFactory()

    def post(index: int):
        return entry_post(
            reference="payment:pay_1:capture",
            entry_type="payment.capture",
            lines=[PostingLine(account=bank, amount=1000), PostingLine(account=payable, amount=-1000)],
        )

    results = _run_together(10, post)

    posted = [result for result in results if not isinstance(result, Exception)]
    refused = [result for result in results if isinstance(result, Exception)]
    assert len(posted) == 1
    assert len(refused) == 9
    assert all(isinstance(error, DuplicateEntry) and error.entry.pk == posted[0].pk for error in refused)
    bank.refresh_from_db()
    assert bank.balance == 1000
