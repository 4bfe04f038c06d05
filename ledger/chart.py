"""The chart of accounts: how account codes are spelled, and the fixed platform accounts.

Codes are `<owner kind>:<owner id>[:<purpose>]`, one account per code and currency. The ledger
only stores and sums them; what each account means is written in docs/ledger.md.
"""

from dataclasses import dataclass

from .models import AccountType, NormalBalance

PLATFORM_FEES = "platform:fees"
PLATFORM_REFUNDS = "platform:refunds"
PLATFORM_CHARGEBACK_LOSSES = "platform:chargeback_losses"
PLATFORM_BANK = "platform:bank"
PLATFORM_SUSPENSE = "platform:suspense"
PLATFORM_PROVIDER_FEES = "platform:provider_fees"
PLATFORM_SETTLEMENT_WRITE_OFFS = "platform:settlement_write_offs"

PROVIDERS = ("cielo", "rede", "getnet")

# Created for these currencies by migration 0003; other currencies get them on first use.
SEEDED_CURRENCIES = ("BRL", "USD")


def merchant_payable_code(merchant_id: str) -> str:
    return f"merchant:{merchant_id}:payable"


def provider_receivable_code(provider: str) -> str:
    return f"provider:{provider}:receivable"


def wallet_code(wallet_id: str) -> str:
    return f"wallet:{wallet_id}"


@dataclass(frozen=True)
class AccountSpec:
    code: str
    type: str
    normal_balance: str
    name: str


PLATFORM_ACCOUNTS: tuple[AccountSpec, ...] = (
    AccountSpec(PLATFORM_FEES, AccountType.REVENUE, NormalBalance.CREDIT, "Platform fee revenue"),
    # Contra-revenue: fees given back to merchants on refunds reduce fee revenue.
    AccountSpec(PLATFORM_REFUNDS, AccountType.REVENUE, NormalBalance.DEBIT, "Fees returned on refunds"),
    AccountSpec(PLATFORM_CHARGEBACK_LOSSES, AccountType.EXPENSE, NormalBalance.DEBIT, "Chargeback losses"),
    AccountSpec(PLATFORM_BANK, AccountType.ASSET, NormalBalance.DEBIT, "Platform bank account"),
    AccountSpec(PLATFORM_SUSPENSE, AccountType.ASSET, NormalBalance.DEBIT, "Suspense (unexplained differences)"),
    # What acquirers keep of each sale (MDR), as their settlement reports state it.
    AccountSpec(PLATFORM_PROVIDER_FEES, AccountType.EXPENSE, NormalBalance.DEBIT, "Provider fees"),
    # Settlement differences the platform absorbed (debit) or kept (credit) on an operator's decision.
    AccountSpec(
        PLATFORM_SETTLEMENT_WRITE_OFFS, AccountType.EXPENSE, NormalBalance.DEBIT, "Settlement differences written off"
    ),
    *(
        AccountSpec(
            provider_receivable_code(provider),
            AccountType.ASSET,
            NormalBalance.DEBIT,
            f"Receivable from {provider} (captured, not yet settled)",
        )
        for provider in PROVIDERS
    ),
)
PLATFORM_ACCOUNT_SPECS: dict[str, AccountSpec] = {spec.code: spec for spec in PLATFORM_ACCOUNTS}
