"""Checks that the books are right, run by `manage.py ledger_verify`.

Each ledger check is a single SQL statement, so it reads one consistent snapshot even while
entries are being posted. Other apps add their own checks (a payment's captured amount against
its postings, say) with `register_check`, usually from their AppConfig.ready(); the ledger never
imports them.
"""

import logging
from collections.abc import Callable, Iterable

from django.db import transaction
from django.db.models import Count, F, Sum

from .models import Account, JournalEntry, Posting, VerificationRun

logger = logging.getLogger(__name__)

Check = Callable[[], Iterable[str]]

_registered_checks: list[Check] = []


def register_check(check: Check) -> Check:
    """Adds a check that returns one line per problem it finds. Usable as a decorator;
    registering the same function twice keeps one."""
    if check not in _registered_checks:
        _registered_checks.append(check)
    return check


def registered_checks() -> list[Check]:
    return [*_LEDGER_CHECKS, *_registered_checks]


def verify() -> list[str]:
    """Every problem every check finds; an empty list means the books are right."""
    problems: list[str] = []
    for check in registered_checks():
        try:
            # Its own savepoint, so a failing query cannot poison the checks after it.
            with transaction.atomic():
                problems.extend(check())
        except Exception as exc:  # a broken check is a finding, and the other checks still run
            logger.exception("ledger check failed", extra={"check": _check_name(check)})
            problems.append(f"{_check_name(check)}: the check itself failed: {exc!r}")
    return problems


# What a run keeps of its problems: enough to start looking, not a copy of a broken ledger.
RECORDED_PROBLEMS = 50


def verify_and_record(*, source: str) -> list[str]:
    """verify(), and its result stored as a VerificationRun (exported on /metrics)."""
    problems = verify()
    VerificationRun.objects.create(
        source=source,
        ok=not problems,
        problem_count=len(problems),
        problems="\n".join(problem[:1000] for problem in problems[:RECORDED_PROBLEMS]),
    )
    return problems


def _check_name(check: Check) -> str:
    return f"{getattr(check, '__module__', '')}.{getattr(check, '__qualname__', repr(check))}"


def _stored_balances_match_postings() -> Iterable[str]:
    drifted = (
        Account.objects.annotate(posted=Sum("postings__amount", default=0))
        .exclude(balance=F("posted"))
        .order_by("pk")
        .values_list("pk", "code", "currency", "balance", "posted")
    )
    for pk, code, currency, balance, posted in drifted:
        yield f"account {pk} {code} ({currency}): stored balance {balance} but its postings sum to {posted}"


def _entries_balance_per_currency() -> Iterable[str]:
    unbalanced = (
        Posting.objects.values("entry_id", "currency")
        .annotate(total=Sum("amount"))
        .exclude(total=0)
        .order_by("entry_id", "currency")
    )
    for row in unbalanced:
        yield f"entry {row['entry_id']}: postings in {row['currency']} sum to {row['total']}, not 0"


def _entries_have_two_postings() -> Iterable[str]:
    short = JournalEntry.objects.annotate(count=Count("postings")).filter(count__lt=2).order_by("pk")
    for entry_id, reference, count in short.values_list("pk", "reference", "count"):
        yield f"entry {entry_id} ({reference}): {count} posting(s), an entry needs at least 2"


def _postings_in_account_currency() -> Iterable[str]:
    mismatched = Posting.objects.exclude(currency=F("account__currency")).order_by("pk")
    for pk, currency, account_currency in mismatched.values_list("pk", "currency", "account__currency"):
        yield f"posting {pk}: currency {currency} differs from its account's {account_currency}"


def _ledger_sums_to_zero_per_currency() -> Iterable[str]:
    totals = Posting.objects.values("currency").annotate(total=Sum("amount")).exclude(total=0).order_by("currency")
    for row in totals:
        yield f"all postings in {row['currency']} sum to {row['total']}, not 0"


_LEDGER_CHECKS: tuple[Check, ...] = (
    _stored_balances_match_postings,
    _entries_balance_per_currency,
    _entries_have_two_postings,
    _postings_in_account_currency,
    _ledger_sums_to_zero_per_currency,
)
