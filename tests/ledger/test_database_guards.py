"""The database holds the ledger's rules by itself: these tests go around ledger.services with raw
SQL, as a bug, a shell session or another program could."""

import pytest
from django.db import IntegrityError, connection, transaction

from ledger.models import Account, JournalEntry, Posting, new_entry_id
from tests.ledger.factories import AccountFactory, JournalEntryFactory


def _insert_entry(postings, *, reference="raw:1", reverses_id=None) -> str:
    entry_id = new_entry_id()
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO ledger_journal_entry (id, reference, entry_type, description, metadata, reverses_id)"
            " VALUES (%s, %s, 'raw', '', '{}', %s)",
            [entry_id, reference, reverses_id],
        )
        for account, amount, currency in postings:
            cursor.execute(
                "INSERT INTO ledger_posting (entry_id, account_id, amount, currency) VALUES (%s, %s, %s, %s)",
                [entry_id, account.pk, amount, currency],
            )
    return entry_id


def _execute(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


@pytest.mark.parametrize(
    ("amounts", "message"),
    [
        ((1000, -999), "does not balance: its postings sum to BRL 1"),
        ((1000,), "has 1 posting"),
        ((), "has 0 posting"),
    ],
)
def test_an_entry_that_does_not_balance_is_refused_at_commit(transactional_db, amounts, message):
    accounts = AccountFactory.create_batch(2)

    with pytest.raises(IntegrityError, match=message), transaction.atomic():
        _insert_entry([(account, amount, "BRL") for account, amount in zip(accounts, amounts, strict=False)])
        # Each statement was accepted: the entry is only judged whole, at commit.

    assert not JournalEntry.objects.exists()
    assert not Posting.objects.exists()


def test_an_entry_balanced_only_across_currencies_is_refused_at_commit(transactional_db):
    brl, usd = AccountFactory(currency="BRL"), AccountFactory(currency="USD")

    with pytest.raises(IntegrityError, match="does not balance"), transaction.atomic():
        _insert_entry([(brl, 100, "BRL"), (usd, -100, "USD")])

    assert not JournalEntry.objects.exists()


def test_a_balanced_entry_commits_and_its_postings_take_the_entry_time(transactional_db):
    first, second = AccountFactory.create_batch(2)

    with transaction.atomic():
        entry_id = _insert_entry([(first, 1000, "BRL"), (second, -400, "BRL"), (second, -600, "BRL")])
        _execute("SELECT pg_sleep(0.01)")  # the postings' statements run later than the entry's

    entry = JournalEntry.objects.get(pk=entry_id)
    assert set(Posting.objects.filter(entry=entry).values_list("created_at", flat=True)) == {entry.created_at}


@pytest.mark.parametrize(
    "sql",
    [
        "UPDATE ledger_posting SET amount = amount * 2",
        "UPDATE ledger_posting SET account_id = account_id",
        "DELETE FROM ledger_posting",
        "UPDATE ledger_journal_entry SET description = 'edited'",
        "DELETE FROM ledger_journal_entry",
    ],
)
def test_entries_and_postings_can_never_be_changed_or_deleted(sql):
    entry = JournalEntryFactory(amount=1000)

    with pytest.raises(IntegrityError, match="append-only"), transaction.atomic():
        _execute(sql)

    assert sorted(entry.postings.values_list("amount", flat=True)) == [-1000, 1000]
    assert JournalEntry.objects.get(pk=entry.pk).description == ""


def test_a_posting_amount_is_never_zero():
    account = AccountFactory()

    with pytest.raises(IntegrityError, match="ledger_posting_amount_not_zero"), transaction.atomic():
        _insert_entry([(account, 0, "BRL")])


def test_a_posting_is_in_its_accounts_currency():
    account = AccountFactory(currency="BRL")

    with pytest.raises(IntegrityError, match="posting in USD to account"), transaction.atomic():
        _insert_entry([(account, 100, "USD")])


def test_an_entry_is_reversed_at_most_once_by_the_database_too():
    original = JournalEntryFactory()
    debit, credit = (posting.account for posting in original.postings.order_by("-amount"))
    _insert_entry([(debit, -1000, "BRL"), (credit, 1000, "BRL")], reference="raw:reversal:1", reverses_id=original.pk)

    with pytest.raises(IntegrityError, match="reverses_id"), transaction.atomic():
        _insert_entry(
            [(debit, -1000, "BRL"), (credit, 1000, "BRL")], reference="raw:reversal:2", reverses_id=original.pk
        )


def test_the_database_refuses_a_second_entry_with_the_same_reference():
    entry = JournalEntryFactory()
    debit, credit = AccountFactory.create_batch(2)

    with pytest.raises(IntegrityError, match="reference"), transaction.atomic():
        _insert_entry([(debit, 1, "BRL"), (credit, -1, "BRL")], reference=entry.reference)


@pytest.mark.parametrize(
    ("column", "value"),
    [("code", "test:renamed"), ("currency", "USD"), ("type", "liability"), ("normal_balance", "credit")],
)
def test_an_accounts_identity_never_changes(column, value):
    account = AccountFactory(currency="BRL", type="asset")

    with pytest.raises(IntegrityError, match="never change"), transaction.atomic():
        _execute(f"UPDATE ledger_account SET {column} = %s WHERE id = %s", [value, account.pk])


def test_an_accounts_balance_and_name_can_change():
    account = AccountFactory()

    _execute("UPDATE ledger_account SET balance = 5, name = 'renamed' WHERE id = %s", [account.pk])

    assert Account.objects.filter(pk=account.pk, balance=5, name="renamed").exists()
