"""Domain checks that `manage.py ledger_verify` runs: every wallet's movements agree with what the
ledger holds for it. Each is one SQL statement, so it reads one consistent snapshot even while
movements are being posted. The account codes are those of wallets.accounts."""

from collections.abc import Iterable

from django.db import connection

from core.money import format_amount
from ledger.models import Account, NormalBalance

# Each movement's entry changed its wallet's balance (available + reserved) by the movement's
# amount, in the movement's direction (postings are debit-positive: income credits the wallet).
_MOVEMENTS_DISAGREE = """
SELECT id, entry_id, type, amount, moved FROM (
    SELECT m.id, m.entry_id, m.type, m.amount,
           (SELECT CAST(COALESCE(-SUM(po.amount), 0) AS BIGINT)
              FROM ledger_posting po
              JOIN ledger_account a ON a.id = po.account_id
             WHERE po.entry_id = m.entry_id
               AND a.currency = w.currency
               AND a.code IN ('wallet:' || w.id, 'wallet:' || w.id || ':reserved')) AS moved
      FROM wallets_movement m
      JOIN wallets_wallet w ON w.id = m.wallet_id
) checked
WHERE moved <> CASE type WHEN 'income' THEN amount ELSE -amount END
ORDER BY id
LIMIT 100
"""

# A wallet's balance is the sum of its movements: nothing else may post to its accounts but
# reservations, which only move money between them. (Portable SQL: `make run` uses SQLite.)
_BALANCES_DISAGREE = """
SELECT id, currency, held, net FROM (
    SELECT w.id, w.currency,
           (SELECT CAST(COALESCE(-SUM(a.balance), 0) AS BIGINT)
              FROM ledger_account a
             WHERE a.currency = w.currency
               AND a.code IN ('wallet:' || w.id, 'wallet:' || w.id || ':reserved')) AS held,
           (SELECT CAST(COALESCE(SUM(CASE m.type WHEN 'income' THEN m.amount ELSE -m.amount END), 0) AS BIGINT)
              FROM wallets_movement m
             WHERE m.wallet_id = w.id) AS net
      FROM wallets_wallet w
) checked
WHERE held <> net
ORDER BY id
LIMIT 100
"""


def movements_match_their_entries() -> Iterable[str]:
    with connection.cursor() as cursor:
        cursor.execute(_MOVEMENTS_DISAGREE)
        rows = cursor.fetchall()
    for movement_id, entry_id, type_, amount, moved in rows:
        yield (
            f"movement {movement_id} ({type_} of {amount}): its entry {entry_id} moved the wallet's balance by {moved}"
        )


def wallet_balances_match_their_movements() -> Iterable[str]:
    with connection.cursor() as cursor:
        cursor.execute(_BALANCES_DISAGREE)
        rows = cursor.fetchall()
    for wallet_id, currency, held, net in rows:
        yield (
            f"wallet {wallet_id}: the ledger holds {format_amount(held, currency)}"
            f" but its movements add up to {format_amount(net, currency)}"
        )


def wallet_accounts_not_below_zero() -> Iterable[str]:
    # Wallet accounts are credit-normal: a debit (positive) balance is money the holder does not have.
    overdrawn = (
        Account.objects.filter(code__startswith="wallet:", normal_balance=NormalBalance.CREDIT, balance__gt=0)
        .order_by("pk")
        .values_list("code", "currency", "balance")
    )
    for code, currency, balance in overdrawn:
        yield f"wallet account {code} ({currency}) is below zero: {format_amount(-balance, currency)}"
