"""Reading a wallet the way the API shows it."""

from wallets import selectors
from wallets.models import Wallet


def balances(wallet: Wallet) -> tuple[int, int]:
    """(balance, available_balance), read fresh from the ledger."""
    fresh = selectors.wallet_get(merchant_id=wallet.merchant_id, wallet_id=wallet.id)
    return fresh.available_balance + fresh.reserved_balance, fresh.available_balance
