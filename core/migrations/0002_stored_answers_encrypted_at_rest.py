"""Stored idempotent answers, kept in clear until now, are stored encrypted (core.crypto): an
answer can carry a secret shown once. Existing answers are encrypted in place, by SQL and in
batches (the model's field would try to decrypt the clear values)."""

from django.db import migrations

import core.fields
from core import crypto

BATCH = 1_000


def _rewrite(schema_editor, change) -> None:
    last_id = 0
    with schema_editor.connection.cursor() as cursor:
        while True:
            cursor.execute(
                "SELECT id, response_body FROM core_idempotencykey WHERE id > %s AND response_body <> '' "
                "ORDER BY id LIMIT %s",
                [last_id, BATCH],
            )
            rows = cursor.fetchall()
            if not rows:
                return
            for row_id, body in rows:
                cursor.execute(
                    "UPDATE core_idempotencykey SET response_body = %s WHERE id = %s", [change(body), row_id]
                )
            last_id = rows[-1][0]


def encrypt_answers(apps, schema_editor):
    _rewrite(schema_editor, crypto.encrypt)


def decrypt_answers(apps, schema_editor):
    _rewrite(schema_editor, crypto.decrypt)


class Migration(migrations.Migration):
    dependencies = [("core", "0001_initial")]

    operations = [
        migrations.AlterField(
            model_name="idempotencykey",
            name="response_body",
            field=core.fields.EncryptedTextField(blank=True, default=""),
        ),
        migrations.RunPython(encrypt_answers, decrypt_answers),
    ]
