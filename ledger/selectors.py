"""Ledger reads. Balances are debit-positive like Account.balance; multiply by
`account.normal_sign` to read them on the account's normal side."""

from datetime import datetime

from django.db.models import Sum

from core.errors import NotFound

from .models import Account, JournalEntry, Posting


def account_get(*, code: str, currency: str) -> Account:
    account = Account.objects.filter(code=code, currency=currency).first()
    if account is None:
        raise NotFound(f"No ledger account {code} in {currency}.")
    return account


def account_balance(*, account: Account, as_of: datetime | None = None) -> int:
    """The current balance (read fresh from the row, O(1)), or the balance as of a past moment:
    the sum of the postings created at or before it. Entries whose transactions are still open
    can commit with a timestamp just before `as_of`, so ask about moments safely in the past."""
    if as_of is None:
        return Account.objects.values_list("balance", flat=True).get(pk=account.pk)
    return Posting.objects.filter(account=account, created_at__lte=as_of).aggregate(total=Sum("amount", default=0))[
        "total"
    ]


def entry_get(*, reference: str) -> JournalEntry | None:
    return JournalEntry.objects.filter(reference=reference).first()
