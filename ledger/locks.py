"""Named lock helpers. Ledger account rows are the last locks any transaction takes: callers lock
their own rows (payment, refund, wallet...) first, then post. Accounts are always locked in
primary-key order, so two entries touching the same accounts queue instead of deadlocking."""

from collections.abc import Iterable

from .models import Account


def lock_accounts(*, account_ids: Iterable[int]) -> dict[int, Account]:
    # PostgreSQL takes the row locks in the order the sorted rows come out (LockRows sits above
    # the sort), which is what makes the fixed order real.
    accounts = Account.objects.select_for_update().filter(pk__in=set(account_ids)).order_by("pk")
    return {account.pk: account for account in accounts}
