import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction

from ledger import verification
from ledger.models import new_entry_id
from ledger.verification import register_check, verify
from tests.ledger.factories import AccountFactory, JournalEntryFactory, LiabilityAccountFactory


@pytest.fixture(autouse=True)
def _no_checks_from_other_apps(monkeypatch):
    monkeypatch.setattr(verification, "_registered_checks", [])


def _execute(sql, params=()):
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def test_a_correct_ledger_verifies_clean_and_the_command_says_so():
    JournalEntryFactory.create_batch(3)
    out = io.StringIO()

    assert verify() == []
    call_command("ledger_verify", stdout=out)

    assert "ledger OK: 5 checks passed over" in out.getvalue()
    assert "3 entries, 6 postings" in out.getvalue()


def test_drift_in_a_stored_balance_is_found_and_the_command_exits_non_zero():
    bank, payable = AccountFactory(code="test:bank"), LiabilityAccountFactory(code="test:payable")
    JournalEntryFactory(debit=bank, credit=payable, amount=1000)
    # The balance column is the one thing in the ledger that can be updated: make it lie.
    _execute("UPDATE ledger_account SET balance = balance + 1 WHERE id = %s", [bank.pk])

    problems = verify()

    assert problems == [f"account {bank.pk} test:bank (BRL): stored balance 1001 but its postings sum to 1000"]
    out = io.StringIO()
    with pytest.raises(CommandError, match=r"found 1 problem\(s\)") as failed:
        call_command("ledger_verify", stdout=out)
    assert failed.value.returncode == 1  # what manage.py exits with
    assert out.getvalue() == problems[0] + "\n"


def test_unbalanced_and_one_sided_entries_are_found():
    first, second = AccountFactory(), AccountFactory(currency="USD")
    with transaction.atomic():
        # Uncommitted, so the commit-time triggers have not judged them yet; rolled back below.
        for reference, postings in {"lopsided": [(first, 100), (second, -100)], "one-sided": [(first, 50)]}.items():
            entry_id = new_entry_id()
            _execute(
                "INSERT INTO ledger_journal_entry (id, reference, entry_type, description, metadata)"
                " VALUES (%s, %s, 'raw', '', '{}')",
                [entry_id, reference],
            )
            for account, amount in postings:
                _execute(
                    "INSERT INTO ledger_posting (entry_id, account_id, amount, currency) VALUES (%s, %s, %s, %s)",
                    [entry_id, account.pk, amount, account.currency],
                )

        problems = "\n".join(verify())
        transaction.set_rollback(True)

    assert "postings in BRL sum to 100, not 0" in problems
    assert "postings in USD sum to -100, not 0" in problems
    assert "(one-sided): 1 posting(s)" in problems
    assert "all postings in BRL sum to 150, not 0" in problems
    assert f"account {first.pk} {first.code} (BRL): stored balance 0 but its postings sum to 150" in problems


def test_other_apps_add_their_own_checks():
    @register_check
    def payments_match_the_ledger():
        yield "payment pay_1: captured 1000 but the ledger holds 900"

    register_check(payments_match_the_ledger)  # registering twice (ready() may run twice) keeps one

    assert verify() == ["payment pay_1: captured 1000 but the ledger holds 900"]


def test_a_check_that_crashes_is_reported_and_the_others_still_run():
    @register_check
    def broken():
        with connection.cursor() as cursor:
            cursor.execute("SELECT * FROM no_such_table")
        return []

    @register_check
    def after_it():
        return ["found by the next check"]

    problems = verify()

    assert len(problems) == 2
    assert "broken: the check itself failed" in problems[0]
    assert problems[1] == "found by the next check"
