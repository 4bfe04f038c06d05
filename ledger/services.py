"""Ledger writes: accounts, entries and reversals.

Every write runs inside the caller's transaction (a savepoint of it), so a payment's state
change and its postings commit or roll back together. Call `entry_post` last in that
transaction: the account rows it locks stay locked until the caller commits.
"""

import re
from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.db.models.functions import Now

from core.money import is_known_currency
from core.pci import find_card_numbers

from .chart import PLATFORM_ACCOUNT_SPECS
from .errors import (
    AlreadyReversed,
    DuplicateEntry,
    InsufficientBalance,
    InvalidAccount,
    InvalidEntry,
    ReferenceConflict,
)
from .locks import lock_accounts
from .models import NORMAL_BALANCE_OF_TYPE, Account, AccountType, JournalEntry, NormalBalance, Posting
from .selectors import account_balance

__all__ = [
    "PostingLine",
    "account_balance",  # a read, kept in selectors; re-exported so callers find it with the writes
    "account_get_or_create",
    "entry_post",
    "entry_reverse",
    "platform_account_get_or_create",
]

_ACCOUNT_CODE = re.compile(r"[a-z][a-z0-9_]*(?::[A-Za-z0-9_.\-]+)*")


@dataclass(frozen=True)
class PostingLine:
    account: Account
    amount: int  # minor units of the account's currency; positive = debit, negative = credit


def account_get_or_create(
    *,
    code: str,
    currency: str,
    type: str,  # noqa: A002 - the account's type, as the model names it
    name: str,
    normal_balance: str | None = None,
) -> Account:
    """The account for (code, currency), created on first use. `normal_balance` defaults to the
    type's usual side; pass it only for contra accounts. An existing account must agree on type and
    normal balance: a code used with two meanings is a bug, not something to paper over."""
    if len(code) > 200 or not _ACCOUNT_CODE.fullmatch(code):
        raise InvalidAccount(f"Account code {code!r} is not of the form kind:id[:purpose].")
    if not is_known_currency(currency):
        raise InvalidAccount(f"Unknown currency {currency!r}.")
    if type not in AccountType.values:
        raise InvalidAccount(f"Unknown account type {type!r}.")
    normal_balance = normal_balance or NORMAL_BALANCE_OF_TYPE[type]
    if normal_balance not in NormalBalance.values:
        raise InvalidAccount(f"Unknown normal balance {normal_balance!r}.")
    account, _ = Account.objects.get_or_create(
        code=code, currency=currency, defaults={"type": type, "normal_balance": normal_balance, "name": name}
    )
    if (account.type, account.normal_balance) != (type, normal_balance):
        raise InvalidAccount(
            f"Account {code} ({currency}) exists as {account.type}/{account.normal_balance},"
            f" not {type}/{normal_balance}."
        )
    return account


def platform_account_get_or_create(*, code: str, currency: str) -> Account:
    """One of the fixed platform accounts (ledger.chart.PLATFORM_ACCOUNTS) in any currency."""
    spec = PLATFORM_ACCOUNT_SPECS.get(code)
    if spec is None:
        raise InvalidAccount(f"{code!r} is not a platform account.")
    return account_get_or_create(
        code=spec.code, currency=currency, type=spec.type, normal_balance=spec.normal_balance, name=spec.name
    )


def entry_post(
    *,
    reference: str,
    entry_type: str,
    lines: Sequence[PostingLine],
    description: str = "",
    metadata: dict | None = None,
    floor: Mapping[Account, int] | None = None,
) -> JournalEntry:
    """Posts one balanced entry and moves the balances of the accounts it touches.

    `reference` is the idempotency key of the business event: posting it again raises
    DuplicateEntry (same type and postings: a retry, treat it as done) or ReferenceConflict
    (different ones: a bug). `floor` maps some of the touched accounts to the lowest natural
    balance (Account.natural_balance: positive = the account's normal side) this entry may leave
    them at; it is checked under the account's row lock and only holds back entries that lower
    that balance, so an account already below its floor can still be paid into."""
    return _entry_write(
        reference=reference,
        entry_type=entry_type,
        description=description,
        metadata={} if metadata is None else metadata,
        lines=lines,
        floor=floor or {},
        reverses=None,
    )


def entry_reverse(
    *, entry: JournalEntry, reference: str, reason: str, floor: Mapping[Account, int] | None = None
) -> JournalEntry:
    """Posts the exact opposite of `entry`, linked to it. An entry is reversed at most once (the
    database holds that): a second reversal raises AlreadyReversed, a retry of the same one
    DuplicateEntry."""
    if not reason:
        raise InvalidEntry("A reversal needs a reason.")
    lines = [
        PostingLine(account=posting.account, amount=-posting.amount)
        for posting in entry.postings.select_related("account").order_by("pk")
    ]
    return _entry_write(
        reference=reference,
        entry_type=f"{entry.entry_type}.reversal",
        description=reason,
        metadata={},
        lines=lines,
        floor=floor or {},
        reverses=entry,
    )


def _entry_write(
    *,
    reference: str,
    entry_type: str,
    description: str,
    metadata: dict,
    lines: Sequence[PostingLine],
    floor: Mapping[Account, int],
    reverses: JournalEntry | None,
) -> JournalEntry:
    _validate(
        reference=reference,
        entry_type=entry_type,
        description=description,
        metadata=metadata,
        lines=lines,
        floor=floor,
    )
    deltas: dict[int, int] = defaultdict(int)
    for line in lines:
        deltas[line.account.pk] += line.amount
    try:
        # A savepoint: a refused entry leaves the caller's transaction usable.
        with transaction.atomic():
            locked = lock_accounts(account_ids=deltas)
            if len(locked) != len(deltas):
                raise InvalidEntry(f"Unknown accounts: {sorted(set(deltas) - set(locked))}.")
            entry = JournalEntry.objects.create(
                reference=reference,
                entry_type=entry_type,
                description=description,
                metadata=metadata,
                reverses=reverses,
            )
            Posting.objects.bulk_create(
                Posting(
                    entry=entry,
                    account_id=line.account.pk,
                    amount=line.amount,
                    currency=line.account.currency,
                    created_at=entry.created_at,
                )
                for line in lines
            )
            # One statement for every touched account (their rows are already locked).
            Account.objects.filter(pk__in=deltas).update(
                balance=F("balance") + Case(*(When(pk=pk, then=Value(delta)) for pk, delta in deltas.items())),
                version=F("version") + 1,
                updated_at=Now(),
            )
            # Last, after the reference was claimed: a retry of an entry that went through must
            # read as DuplicateEntry, not as a floor that the first attempt already lowered.
            _check_floors(floor=floor, locked=locked, deltas=deltas)
    except IntegrityError as exc:
        already_done = _already_done(reference=reference, entry_type=entry_type, lines=lines, reverses=reverses)
        if already_done is None:
            raise
        raise already_done from exc
    return entry


def _validate(
    *,
    reference: str,
    entry_type: str,
    description: str,
    metadata: dict,
    lines: Sequence[PostingLine],
    floor: Mapping[Account, int],
) -> None:
    if not 0 < len(reference) <= 255:
        raise InvalidEntry("The reference must be 1 to 255 characters.")
    if not 0 < len(entry_type) <= 100:
        raise InvalidEntry("The entry type must be 1 to 100 characters.")
    if len(description) > 1000:
        raise InvalidEntry("The description must be at most 1000 characters.")
    if not isinstance(metadata, dict):
        raise InvalidEntry("The metadata must be a JSON object.")
    if len(lines) < 2:
        raise InvalidEntry("An entry needs at least two postings.")
    totals: dict[str, int] = defaultdict(int)
    for line in lines:
        if line.account.pk is None:
            raise InvalidEntry("Post only to saved accounts (use account_get_or_create).")
        if not isinstance(line.amount, int) or isinstance(line.amount, bool) or line.amount == 0:
            raise InvalidEntry(f"Amounts are non-zero integers (minor units); got {line.amount!r} for {line.account}.")
        totals[line.account.currency] += line.amount
    unbalanced = {currency: total for currency, total in totals.items() if total}
    if unbalanced:
        raise InvalidEntry(f"The entry does not balance; postings sum to {unbalanced} instead of zero per currency.")
    touched = {line.account.pk for line in lines}
    if any(account.pk not in touched for account in floor):
        raise InvalidEntry("A floor can only be set for an account the entry posts to.")
    # Entries can never be deleted, so a card number written here could never be removed.
    card_numbers = find_card_numbers({"description": description, "metadata": metadata})
    if card_numbers:
        raise InvalidEntry(f"Values that look like card numbers may not enter the ledger: {', '.join(card_numbers)}.")


def _check_floors(*, floor: Mapping[Account, int], locked: dict[int, Account], deltas: dict[int, int]) -> None:
    for account, minimum in floor.items():
        current = locked[account.pk]  # read under the row lock: no one else can move it now
        change = deltas[account.pk] * current.normal_sign
        after = current.natural_balance + change
        if change < 0 and after < minimum:
            raise InsufficientBalance(account=current, balance=after, floor=minimum)


def _already_done(
    *, reference: str, entry_type: str, lines: Sequence[PostingLine], reverses: JournalEntry | None
) -> Exception | None:
    """After an IntegrityError: the domain error that explains it, if an existing entry does."""
    existing = JournalEntry.objects.filter(reference=reference).first()
    if existing is not None:
        same = (
            existing.entry_type == entry_type
            and existing.reverses_id == (reverses.pk if reverses else None)
            and sorted(existing.postings.values_list("account_id", "amount"))
            == sorted((line.account.pk, line.amount) for line in lines)
        )
        return DuplicateEntry(entry=existing) if same else ReferenceConflict(entry=existing)
    if reverses is not None:
        reversal = JournalEntry.objects.filter(reverses=reverses).first()
        if reversal is not None:
            return AlreadyReversed(entry=reverses, reversal=reversal)
    return None
