"""Indexes nothing reads, dropped because every insert and status change writes them (a night's
settlement moves a million payments and writes a million events):

- the merchant foreign key's own index (and its `varchar_pattern_ops` twin): payment_merchant_idx
  (merchant, -id) starts with the same column and serves every lookup by merchant and the foreign
  key's checks;
- the primary key's `varchar_pattern_ops` twin, which only serves case-sensitive `LIKE 'x%'`;
  nothing filters by a prefix of the id (the admin's search is `icontains`, which cannot use it).
  PostgreSQL only: the twin exists only there.
"""

import django.db.models.deletion
from django.db import migrations, models

ID_PATTERN_INDEX = "payments_payment_id_91e48230_like"


def drop_id_pattern_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(f"DROP INDEX IF EXISTS {ID_PATTERN_INDEX}")


def create_id_pattern_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(
            f"CREATE INDEX IF NOT EXISTS {ID_PATTERN_INDEX} ON payments_payment (id varchar_pattern_ops)"
        )


class Migration(migrations.Migration):
    dependencies = [
        ("merchants", "0001_initial"),
        ("payments", "0002_disputes"),
    ]

    operations = [
        migrations.AlterField(
            model_name="payment",
            name="merchant",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="payments",
                to="merchants.merchant",
            ),
        ),
        migrations.RunPython(drop_id_pattern_index, create_id_pattern_index),
    ]
