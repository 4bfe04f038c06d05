from core.errors import Conflict, InsufficientFunds, ValidationFailed


class InvalidAccount(ValidationFailed):
    code = "ledger_invalid_account"
    title = "The ledger account is not valid"


class InvalidEntry(ValidationFailed):
    """The lines of an entry break a ledger rule (unbalanced, zero amount, fewer than two...).
    Callers validate their own input first, so this reaching an API client means a caller bug."""

    code = "ledger_invalid_entry"
    title = "The journal entry is not valid"


class DuplicateEntry(Conflict):
    """An entry with this reference already exists and has the same type and postings: a retry of
    something already done. `entry` is the existing entry."""

    code = "ledger_duplicate_entry"
    title = "This journal entry was already posted"

    def __init__(self, *, entry):
        self.entry = entry
        super().__init__(f"Journal entry {entry.reference!r} was already posted as {entry.id}.")


class ReferenceConflict(Conflict):
    """An entry with this reference already exists but says something else (other type, accounts
    or amounts): not a retry, a bug in the caller's choice of reference. `entry` is the existing one."""

    code = "ledger_reference_conflict"
    title = "The reference is already used by a different journal entry"

    def __init__(self, *, entry):
        self.entry = entry
        super().__init__(
            f"Reference {entry.reference!r} is already used by journal entry {entry.id} with other postings."
        )


class AlreadyReversed(Conflict):
    code = "ledger_already_reversed"
    title = "The journal entry was already reversed"

    def __init__(self, *, entry, reversal):
        self.entry = entry
        self.reversal = reversal
        super().__init__(f"Journal entry {entry.id} was already reversed by {reversal.id} ({reversal.reference!r}).")


class InsufficientBalance(InsufficientFunds):
    """Posting would leave `account` below the floor its caller asked for. `balance` and `floor`
    are in the account's normal orientation (see Account.natural_balance)."""

    def __init__(self, *, account, balance: int, floor: int):
        self.account = account
        self.balance = balance
        self.floor = floor
        super().__init__(f"Account {account.code} ({account.currency}) would go to {balance}, below its floor {floor}.")
