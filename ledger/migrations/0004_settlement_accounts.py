"""The accounts reconciliation posts to (docs/reconciliation.md): provider fees, and settlement
differences written off, in BRL and USD; other currencies get them on first use. The values are
spelled out here rather than read from ledger.chart, so that this migration means the same thing
whatever the chart becomes."""

from django.db import migrations

ACCOUNTS = (
    ("platform:provider_fees", "expense", "debit", "Provider fees"),
    ("platform:settlement_write_offs", "expense", "debit", "Settlement differences written off"),
)
CURRENCIES = ("BRL", "USD")


def create_accounts(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    for currency in CURRENCIES:
        for code, type_, normal_balance, name in ACCOUNTS:
            Account.objects.get_or_create(
                code=code, currency=currency, defaults={"type": type_, "normal_balance": normal_balance, "name": name}
            )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0003_platform_accounts")]

    # Reversing leaves the accounts: they may have postings by then.
    operations = [migrations.RunPython(create_accounts, migrations.RunPython.noop)]
