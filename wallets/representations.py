"""The public shape of wallets and movements (API.md). One function per object, used by the API
and by domain events alike, so a webhook carries exactly what GET returns."""

from core.formats import rfc3339

from .models import Movement, Wallet


def wallet_to_dict(wallet: Wallet) -> dict:
    """`wallet` must carry the balances that wallets.accounts.with_balances annotates."""
    return {
        "id": wallet.id,
        "object": "wallet",
        "currency": wallet.currency,
        "balance": wallet.available_balance + wallet.reserved_balance,
        "available_balance": wallet.available_balance,
        "owner_reference": wallet.owner_reference or None,
        "created_at": rfc3339(wallet.created_at),
    }


def movement_to_dict(movement: Movement) -> dict:
    return {
        "id": movement.id,
        "object": "movement",
        "wallet": movement.wallet_id,
        "type": movement.type,
        "amount": movement.amount,
        "currency": movement.wallet.currency,
        "reference": movement.reference or None,
        "description": movement.description or None,
        "reverts": movement.reverts_id,
        "reason": movement.reason or None,
        "created_at": rfc3339(movement.created_at),
    }
