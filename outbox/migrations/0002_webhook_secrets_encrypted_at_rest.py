"""Webhook signing secrets, kept in clear until now, are stored encrypted (core.crypto).

The column becomes text (a Fernet token is longer than the secret), then each stored secret is
encrypted in place, by SQL: the model's field would try to decrypt the clear values."""

from django.db import migrations

import core.fields
from core import crypto


def _rewrite(schema_editor, change) -> None:
    with schema_editor.connection.cursor() as cursor:
        cursor.execute("SELECT id, secret, previous_secret FROM outbox_webhookendpoint")
        for endpoint_id, *values in cursor.fetchall():
            changed = [change(value) if value else value for value in values]
            cursor.execute(
                "UPDATE outbox_webhookendpoint SET secret = %s, previous_secret = %s WHERE id = %s",
                [*changed, endpoint_id],
            )


def encrypt_secrets(apps, schema_editor):
    _rewrite(schema_editor, crypto.encrypt)


def decrypt_secrets(apps, schema_editor):
    _rewrite(schema_editor, crypto.decrypt)


class Migration(migrations.Migration):
    dependencies = [("outbox", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="previous_secret",
            field=core.fields.EncryptedTextField(blank=True, default=""),
        ),
        migrations.AlterField(model_name="webhookendpoint", name="secret", field=core.fields.EncryptedTextField()),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
    ]
