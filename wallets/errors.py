from core.errors import Conflict, NotFound, ValidationFailed


class WalletNotFound(NotFound):
    title = "No such wallet"


class MovementNotFound(NotFound):
    title = "No such movement"


class AlreadyReverted(Conflict):
    code = "already_reverted"
    title = "The movement was already reverted"


class MovementNotRevertible(Conflict):
    code = "movement_not_revertible"
    title = "The movement cannot be reverted"


class CurrencyMismatch(ValidationFailed):
    code = "currency_mismatch"
    title = "The currency differs from the wallet's"


class AmountExceedsReserved(Conflict):
    """Releasing or capturing more than a wallet holds reserved: a bug in the caller's
    bookkeeping of its reservation, refused rather than taken from the available funds."""

    code = "amount_exceeds_reserved"
    title = "The amount is larger than what the wallet holds reserved"
