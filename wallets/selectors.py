from django.db.models import QuerySet

from .accounts import with_balances
from .errors import MovementNotFound, WalletNotFound
from .models import Movement, Wallet


def wallet_get(*, merchant_id: str, wallet_id: str) -> Wallet:
    """The wallet with its balances annotated (wallets.accounts.with_balances)."""
    wallet = with_balances(Wallet.objects.filter(merchant_id=merchant_id, pk=wallet_id)).first()
    if wallet is None:
        raise WalletNotFound(f"No such wallet: {wallet_id}")
    return wallet


def movement_list(*, merchant_id: str, wallet_id: str) -> QuerySet[Movement]:
    if not Wallet.objects.filter(merchant_id=merchant_id, pk=wallet_id).exists():
        raise WalletNotFound(f"No such wallet: {wallet_id}")  # another merchant's wallet, too
    return Movement.objects.filter(wallet_id=wallet_id).select_related("wallet")


def movement_get(*, merchant_id: str, movement_id: str) -> Movement:
    movement = Movement.objects.filter(wallet__merchant_id=merchant_id, pk=movement_id).select_related("wallet").first()
    if movement is None:
        raise MovementNotFound(f"No such movement: {movement_id}")
    return movement
