from collections import defaultdict

import pytest
from django.db import transaction
from django.db.models import Sum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.errors import AlreadyReversed
from ledger.models import Account, AccountType, JournalEntry
from ledger.services import PostingLine, entry_post, entry_reverse
from ledger.verification import verify
from tests.ledger.conftest import check_deferred_constraints
from tests.ledger.factories import AccountFactory

ACCOUNTS = (
    ("BRL", AccountType.ASSET),
    ("BRL", AccountType.LIABILITY),
    ("BRL", AccountType.REVENUE),
    ("BRL", AccountType.EXPENSE),
    ("USD", AccountType.ASSET),
    ("USD", AccountType.LIABILITY),
    ("USD", AccountType.EQUITY),
)
amounts = st.integers(min_value=-(10**9), max_value=10**9).filter(bool)


@st.composite
def balanced_lines(draw) -> list[tuple[int, int]]:
    """(account index, amount) pairs summing to zero in each currency they touch."""
    lines = []
    for currency in sorted(draw(st.sets(st.sampled_from(["BRL", "USD"]), min_size=1))):
        indexes = [index for index, (account_currency, _) in enumerate(ACCOUNTS) if account_currency == currency]
        legs = draw(st.lists(st.tuples(st.sampled_from(indexes), amounts), min_size=1, max_size=4))
        total = sum(amount for _, amount in legs)
        if total:
            legs.append((draw(st.sampled_from(indexes)), -total))
        lines.extend(legs)
    return lines


operations = st.lists(
    st.one_of(
        st.tuples(st.just("post"), balanced_lines()),
        st.tuples(st.just("reverse"), st.integers(min_value=0, max_value=50)),
    ),
    max_size=12,
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(operations=operations)
def test_any_sequence_of_entries_and_reversals_keeps_the_books_balanced(operations):
    with transaction.atomic():
        accounts = [AccountFactory(currency=currency, type=type_) for currency, type_ in ACCOUNTS]
        expected = defaultdict(int)
        entries: list[tuple[JournalEntry, list[tuple[int, int]]]] = []  # each with the postings it should have
        for number, (kind, argument) in enumerate(operations):
            reference = f"property:{number}"
            if kind == "post":
                intended = [(accounts[index].pk, amount) for index, amount in argument]
                lines = [PostingLine(account=accounts[index], amount=amount) for index, amount in argument]
                entries.append((entry_post(reference=reference, entry_type="test.random", lines=lines), intended))
            elif entries:
                target, target_postings = entries[argument % len(entries)]
                if JournalEntry.objects.filter(reverses=target).exists():
                    with pytest.raises(AlreadyReversed):
                        entry_reverse(entry=target, reference=reference, reason="property test")
                    continue
                reversal = entry_reverse(entry=target, reference=reference, reason="property test")
                entries.append((reversal, [(account_id, -amount) for account_id, amount in target_postings]))
            else:
                continue
            for account_id, amount in entries[-1][1]:
                expected[account_id] += amount

        for entry, intended in entries:
            assert sorted(entry.postings.values_list("account_id", "amount")) == sorted(intended)
        check_deferred_constraints()  # the database's own verdict on every entry, as at commit
        balances = dict(Account.objects.filter(pk__in=[a.pk for a in accounts]).values_list("pk", "balance"))
        assert balances == {account.pk: expected[account.pk] for account in accounts}
        for currency in ("BRL", "USD"):
            total = Account.objects.filter(pk__in=balances, currency=currency).aggregate(total=Sum("balance"))
            assert total["total"] == 0
        assert verify() == []
        transaction.set_rollback(True)
