"""The ledger accounts behind a wallet (docs/ledger.md, "Wallets").

Each wallet has two liability accounts, credit-normal, in the wallet's currency:

- `wallet:{id}`: the available funds, what the holder can spend now;
- `wallet:{id}:reserved`: funds held by authorized wallet payments until they are captured or
  released.

A wallet's `available_balance` is the natural balance of the first, its `balance` the sum of
both. Money that enters or leaves the platform (income, expense) has `platform:bank` on the other
side: money received from outside increases the bank and what we owe the holder.
"""

from django.db.models import OuterRef, QuerySet, Subquery, Value
from django.db.models.functions import Concat

from ledger import chart
from ledger.models import Account, AccountType
from ledger.services import account_get_or_create, platform_account_get_or_create

from .models import Wallet

COUNTER_ACCOUNT = chart.PLATFORM_BANK


def available_code(wallet_id: str) -> str:
    return chart.wallet_code(wallet_id)


def reserved_code(wallet_id: str) -> str:
    return f"{chart.wallet_code(wallet_id)}:reserved"


def available_account(wallet: Wallet) -> Account:
    return account_get_or_create(
        code=available_code(wallet.id), currency=wallet.currency, type=AccountType.LIABILITY, name=f"Wallet {wallet.id}"
    )


def reserved_account(wallet: Wallet) -> Account:
    return account_get_or_create(
        code=reserved_code(wallet.id),
        currency=wallet.currency,
        type=AccountType.LIABILITY,
        name=f"Wallet {wallet.id}, reserved for payments",
    )


def counter_account(currency: str) -> Account:
    return platform_account_get_or_create(code=COUNTER_ACCOUNT, currency=currency)


def with_balances(wallets: QuerySet[Wallet]) -> QuerySet[Wallet]:
    """Annotates `available_balance` and `reserved_balance`, read from the ledger in the same
    query, on the accounts' natural side (positive = money held for the holder)."""

    def natural_balance(*code_parts) -> Subquery:
        # The codes of available_code / reserved_code, spelled in SQL. Both accounts are
        # credit-normal, so the natural balance is the negated (debit-positive) stored one.
        account = Account.objects.filter(code=Concat(*code_parts), currency=OuterRef("currency"))
        return -Subquery(account.values("balance")[:1])

    return wallets.annotate(
        available_balance=natural_balance(Value("wallet:"), OuterRef("pk")),
        reserved_balance=natural_balance(Value("wallet:"), OuterRef("pk"), Value(":reserved")),
    )
