"""Named lock helpers. Lock order, always: the caller's own rows (a payment that uses the wallet),
then the wallet, then, inside the ledger's entry_post, ledger accounts by primary key. Every change
of a wallet happens under its row lock, re-read under that lock."""

from .errors import WalletNotFound
from .models import Wallet


def lock_wallet(*, wallet_id: str, merchant_id: str | None = None) -> Wallet:
    queryset = Wallet.objects.select_for_update()
    if merchant_id is not None:
        queryset = queryset.filter(merchant_id=merchant_id)
    wallet = queryset.filter(pk=wallet_id).first()
    if wallet is None:
        raise WalletNotFound(f"No such wallet: {wallet_id}")
    return wallet
