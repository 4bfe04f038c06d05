"""The fixed platform accounts in BRL and USD. Other currencies get them on first use
(ledger.services.platform_account_get_or_create)."""

from django.db import migrations

from ledger.chart import PLATFORM_ACCOUNTS, SEEDED_CURRENCIES


def create_platform_accounts(apps, schema_editor):
    Account = apps.get_model("ledger", "Account")
    for currency in SEEDED_CURRENCIES:
        for spec in PLATFORM_ACCOUNTS:
            Account.objects.get_or_create(
                code=spec.code,
                currency=currency,
                defaults={"type": spec.type, "normal_balance": spec.normal_balance, "name": spec.name},
            )


class Migration(migrations.Migration):
    dependencies = [("ledger", "0002_database_guards")]

    # Reversing leaves the accounts: they may have postings by then, and 0001's reversal drops them anyway.
    operations = [migrations.RunPython(create_platform_accounts, migrations.RunPython.noop)]
