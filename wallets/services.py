"""Wallet services: customer wallets whose money lives in the double-entry ledger.

A wallet's balance is never stored on the wallet: it is the balance of its two ledger accounts,
`wallet:{id}` (available) and `wallet:{id}:reserved` (held by authorized wallet payments); see
wallets.accounts and docs/ledger.md, "Wallets". Income and expenses have `platform:bank` on the
other side.

Every change runs in `transaction.atomic()` on the wallet row locked with select_for_update
(wallets.locks: the caller's rows first, then the wallet, then the ledger accounts, which
entry_post locks itself) and posts exactly one ledger entry. The ledger's floors keep the
available and reserved balances from going below zero, checked under the account locks, so no
interleaving of requests can overdraw a wallet.

Movements are the wallet's statement: every change of `balance` is one immutable movement, linked
to the entry it posted and announced by one DomainEvent on the wallet's stream,
`wallet.movement_created`, or `wallet.movement_reverted` for a revert. The entry is posted just
before the movement row because the row records its id; what follows it (the movement and its
event) are inserts that take no further locks.

Using a wallet as a payment method
----------------------------------
For the payments app, which owns the payment row and its lock. Call these inside the transaction
that changes the payment (they run in a savepoint of it) and never around a provider call. They
take plain ids and amounts (minor units of the wallet's currency) and return the id of the
ledger entry they posted. Each is idempotent on `reference` (build it from the payment and the
step, e.g. `payment:{pay_id}:wallet_reserve`): calling again with the same reference and
arguments changes nothing and returns the same entry id; the same reference with other
arguments raises the ledger's ReferenceConflict, a bug.

- `wallet_reserve(*, merchant_id, wallet_id, amount, currency, reference) -> str`: authorization,
  available -> reserved. Another merchant's wallet: WalletNotFound (404); another currency:
  CurrencyMismatch (400); more than the available balance: InsufficientFunds (409
  `insufficient_funds`).
- `wallet_release(*, wallet_id, amount, reference) -> str`: void, expiry, or the part of a
  reservation that was not captured; reserved -> available.
- `wallet_capture_reservation(*, wallet_id, amount, merchant_payable_account_code, reference) -> str`:
  reserved -> the merchant's payable (`ledger.chart.merchant_payable_code(merchant_id)`, the
  wallet's own merchant); records an expense movement. Capturing less than was reserved leaves
  the rest reserved: release it with its own reference.
- `wallet_refund(*, wallet_id, amount, reference) -> str`: the merchant's payable -> available;
  records an income movement. Keeping refunds within what was captured is the caller's rule.

Releasing or capturing more than the wallet holds reserved raises AmountExceedsReserved (409).
Movements of payments cannot be reverted through movement_revert: refund the payment instead.
"""

from collections.abc import Iterator
from contextlib import contextmanager

from django.db import transaction

from core.errors import InsufficientFunds, ValidationFailed
from core.money import MAX_AMOUNT, format_amount
from events.services import event_record
from ledger import chart
from ledger.errors import DuplicateEntry, InsufficientBalance
from ledger.models import Account, AccountType, JournalEntry
from ledger.services import PostingLine, account_get_or_create, entry_post, entry_reverse

from . import accounts
from .errors import AlreadyReverted, AmountExceedsReserved, CurrencyMismatch, MovementNotFound, MovementNotRevertible
from .locks import lock_wallet
from .models import Movement, MovementType, Wallet, new_movement_id
from .representations import movement_to_dict

ENTRY_INCOME = "wallet.income"
ENTRY_EXPENSE = "wallet.expense"
ENTRY_RESERVE = "wallet.reserve"
ENTRY_RELEASE = "wallet.release"
ENTRY_CAPTURE = "wallet.capture"
ENTRY_REFUND = "wallet.refund"

# A payment's capture or refund is undone through the payment, never by reverting its movement.
_REVERTIBLE_ENTRY_TYPES = (ENTRY_INCOME, ENTRY_EXPENSE)
_OPPOSITE = {MovementType.INCOME: MovementType.EXPENSE, MovementType.EXPENSE: MovementType.INCOME}


def movement_reference(movement_id: str) -> str:
    return f"wallet_movement:{movement_id}"


# --- wallets and their movements ----------------------------------------------------------------
@transaction.atomic
def wallet_create(*, merchant_id: str, currency: str, owner_reference: str = "") -> Wallet:
    wallet = Wallet.objects.create(merchant_id=merchant_id, currency=currency, owner_reference=owner_reference)
    # Opened with the wallet, so that reading a balance never has to create anything.
    accounts.available_account(wallet)
    accounts.reserved_account(wallet)
    return wallet


def movement_create(
    *,
    merchant_id: str,
    wallet_id: str,
    type: str,  # noqa: A002 - the movement's type, as the API names it
    amount: int,
    reference: str = "",
    description: str = "",
) -> Movement:
    """Income (money received for the holder) or expense (money paid out of the wallet). An
    expense beyond the available balance raises InsufficientFunds."""
    _check_amount(amount)
    if type not in MovementType.values:
        raise ValidationFailed(
            f"A movement is 'income' or 'expense', not {type!r}.",
            errors=[{"field": "type", "code": "invalid_choice", "detail": "Use 'income' or 'expense'."}],
        )
    with transaction.atomic():
        wallet = lock_wallet(wallet_id=wallet_id, merchant_id=merchant_id)
        available = accounts.available_account(wallet)
        bank = accounts.counter_account(wallet.currency)
        # Debit-positive: income credits what we owe the holder (and debits the bank that
        # received it); an expense does the opposite.
        change = -amount if type == MovementType.INCOME else amount
        movement_id = new_movement_id()
        with _floors_as_wallet_errors(wallet, amount):
            entry = entry_post(
                reference=movement_reference(movement_id),
                entry_type=ENTRY_INCOME if type == MovementType.INCOME else ENTRY_EXPENSE,
                lines=[PostingLine(account=available, amount=change), PostingLine(account=bank, amount=-change)],
                metadata={"wallet_id": wallet.id, "movement_id": movement_id},
                floor={available: 0},
            )
        movement = Movement.objects.create(
            id=movement_id,
            wallet=wallet,
            type=type,
            amount=amount,
            reference=reference,
            description=description,
            entry=entry,
        )
        _movement_event(movement, "wallet.movement_created")
    return movement


def movement_revert(*, merchant_id: str, movement_id: str, reason: str) -> Movement:
    """Records the opposite of an income or expense movement, once. Reverting an income whose
    money was already spent is refused like any expense beyond the available balance."""
    if not reason:
        raise ValidationFailed(
            "Say why the movement is reverted.",
            errors=[{"field": "reason", "code": "required", "detail": "A reason is required."}],
        )
    wallet_id = (
        Movement.objects.filter(pk=movement_id, wallet__merchant_id=merchant_id)
        .values_list("wallet_id", flat=True)
        .first()
    )
    if wallet_id is None:
        raise MovementNotFound(f"No such movement: {movement_id}")
    with transaction.atomic():
        wallet = lock_wallet(wallet_id=wallet_id)
        original = Movement.objects.select_related("entry").get(pk=movement_id)  # re-read under the lock
        if original.reverts_id is not None:
            raise MovementNotRevertible(
                f"Movement {original.id} is itself a revert and cannot be reverted; record a new movement instead."
            )
        if original.entry.entry_type not in _REVERTIBLE_ENTRY_TYPES:
            raise MovementNotRevertible(
                f"Movement {original.id} belongs to a wallet payment; refund the payment instead."
            )
        earlier = Movement.objects.filter(reverts=original).values_list("pk", flat=True).first()
        if earlier is not None:
            raise AlreadyReverted(f"Movement {original.id} was already reverted by {earlier}.")
        revert_id = new_movement_id()
        with _floors_as_wallet_errors(wallet, original.amount):
            entry = entry_reverse(
                entry=original.entry,
                reference=movement_reference(revert_id),
                reason=reason,
                floor={accounts.available_account(wallet): 0},
            )
        revert = Movement.objects.create(
            id=revert_id,
            wallet=wallet,
            type=_OPPOSITE[original.type],
            amount=original.amount,
            reverts=original,
            reason=reason,
            entry=entry,
        )
        _movement_event(revert, "wallet.movement_reverted")
    return revert


# --- a wallet as a payment method (see the module docstring) -----------------------------------
def wallet_reserve(*, merchant_id: str, wallet_id: str, amount: int, currency: str, reference: str) -> str:
    _check_amount(amount)
    with transaction.atomic():
        wallet = lock_wallet(wallet_id=wallet_id, merchant_id=merchant_id)
        if currency != wallet.currency:
            raise CurrencyMismatch(
                f"Wallet {wallet.id} holds {wallet.currency}, not {currency}.",
                errors=[{"field": "currency", "code": "currency_mismatch", "detail": f"Use {wallet.currency}."}],
            )
        available = accounts.available_account(wallet)
        with _floors_as_wallet_errors(wallet, amount):
            entry, _ = _post_once(
                reference=reference,
                entry_type=ENTRY_RESERVE,
                lines=_transfer(amount, source=available, destination=accounts.reserved_account(wallet)),
                metadata={"wallet_id": wallet.id},
                floor={available: 0},
            )
    return entry.id


def wallet_release(*, wallet_id: str, amount: int, reference: str) -> str:
    _check_amount(amount)
    with transaction.atomic():
        wallet = lock_wallet(wallet_id=wallet_id)
        reserved = accounts.reserved_account(wallet)
        with _floors_as_wallet_errors(wallet, amount):
            entry, _ = _post_once(
                reference=reference,
                entry_type=ENTRY_RELEASE,
                lines=_transfer(amount, source=reserved, destination=accounts.available_account(wallet)),
                metadata={"wallet_id": wallet.id},
                floor={reserved: 0},
            )
    return entry.id


def wallet_capture_reservation(
    *, wallet_id: str, amount: int, merchant_payable_account_code: str, reference: str
) -> str:
    _check_amount(amount)
    with transaction.atomic():
        wallet = lock_wallet(wallet_id=wallet_id)
        if merchant_payable_account_code != chart.merchant_payable_code(wallet.merchant_id):
            # Money in a merchant's wallets can only ever pay that merchant.
            raise ValidationFailed(
                f"Wallet {wallet.id} can only pay its own merchant, not {merchant_payable_account_code}.",
                code="wallet_payable_mismatch",
            )
        reserved = accounts.reserved_account(wallet)
        with _floors_as_wallet_errors(wallet, amount):
            entry, posted = _post_once(
                reference=reference,
                entry_type=ENTRY_CAPTURE,
                lines=_transfer(amount, source=reserved, destination=_merchant_payable(wallet)),
                metadata={"wallet_id": wallet.id},
                floor={reserved: 0},
            )
        if posted:
            _payment_movement(wallet, entry, type=MovementType.EXPENSE, amount=amount, reference=reference)
    return entry.id


def wallet_refund(*, wallet_id: str, amount: int, reference: str) -> str:
    _check_amount(amount)
    with transaction.atomic():
        wallet = lock_wallet(wallet_id=wallet_id)
        # No floor on the payable: a merchant already paid out may owe us (docs/ledger.md).
        entry, posted = _post_once(
            reference=reference,
            entry_type=ENTRY_REFUND,
            lines=_transfer(amount, source=_merchant_payable(wallet), destination=accounts.available_account(wallet)),
            metadata={"wallet_id": wallet.id},
        )
        if posted:
            _payment_movement(wallet, entry, type=MovementType.INCOME, amount=amount, reference=reference)
    return entry.id


# --- helpers ------------------------------------------------------------------------------------
def _check_amount(amount: int) -> None:
    # The API validates amounts too; these services are also called with plain ints by other apps.
    if isinstance(amount, bool) or not isinstance(amount, int) or not 1 <= amount <= MAX_AMOUNT:
        raise ValidationFailed(
            f"An amount is an integer from 1 to {MAX_AMOUNT} in the currency's minor unit, not {amount!r}.",
            errors=[{"field": "amount", "code": "invalid", "detail": f"An integer from 1 to {MAX_AMOUNT}."}],
        )


def _transfer(amount: int, *, source: Account, destination: Account) -> list[PostingLine]:
    """Moves `amount` between two liabilities: we owe `source`'s holder less (a debit) and
    `destination`'s more (a credit)."""
    return [PostingLine(account=source, amount=amount), PostingLine(account=destination, amount=-amount)]


def _merchant_payable(wallet: Wallet) -> Account:
    return account_get_or_create(
        code=chart.merchant_payable_code(wallet.merchant_id),
        currency=wallet.currency,
        type=AccountType.LIABILITY,
        name=f"Payable to merchant {wallet.merchant_id}",  # as payments.accounting names it
    )


def _post_once(**entry) -> tuple[JournalEntry, bool]:
    """entry_post, as (entry, True); or (the entry already posted, False) when the reference was
    posted before with the same lines: a retry of something done."""
    try:
        return entry_post(**entry), True
    except DuplicateEntry as exc:
        return exc.entry, False


@contextmanager
def _floors_as_wallet_errors(wallet: Wallet, amount: int) -> Iterator[None]:
    """The ledger's floor refusals, told in the wallet's terms. Every wallet entry lowers a floored
    account by exactly `amount`, so the balance before it was the refused balance plus `amount`."""
    try:
        yield
    except InsufficientBalance as exc:
        held = format_amount(exc.balance + amount, wallet.currency)
        wanted = format_amount(amount, wallet.currency)
        if exc.account.code == accounts.reserved_code(wallet.id):
            raise AmountExceedsReserved(f"Wallet {wallet.id} holds {held} reserved, less than {wanted}.") from exc
        raise InsufficientFunds(f"Wallet {wallet.id} has {held} available, less than {wanted}.") from exc


def _payment_movement(wallet: Wallet, entry: JournalEntry, *, type: str, amount: int, reference: str) -> None:  # noqa: A002
    movement = Movement.objects.create(wallet=wallet, type=type, amount=amount, reference=reference, entry=entry)
    _movement_event(movement, "wallet.movement_created")


def _movement_event(movement: Movement, event_type: str) -> None:
    """Must run under the wallet's lock, which orders the wallet's event stream."""
    event_record(
        merchant_id=movement.wallet.merchant_id,
        aggregate_type="wallet",
        aggregate_id=movement.wallet_id,
        type=event_type,
        data={"object": movement_to_dict(movement)},
    )
