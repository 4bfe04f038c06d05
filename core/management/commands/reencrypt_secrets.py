"""The last step of a key rotation: every encrypted field (core.fields.EncryptedTextField) of every
model is read (any configured key decrypts) and written back (the first key encrypts). After it,
the old key can leave FIELD_ENCRYPTION_KEYS (or SECRET_KEY_FALLBACKS). Safe to run again, and to
stop half-way: each row is rewritten on its own."""

from django.apps import apps
from django.core.management.base import BaseCommand

from core.fields import EncryptedTextField

CHUNK = 1_000


class Command(BaseCommand):
    help = "Re-encrypts every encrypted field with the current first key (after adding a new key)."

    def handle(self, *args, **options):
        for model in apps.get_models():
            fields = [field.name for field in model._meta.concrete_fields if isinstance(field, EncryptedTextField)]
            if not fields:
                continue
            rows = 0
            for pk, *values in model._base_manager.values_list("pk", *fields).iterator(chunk_size=CHUNK):
                model._base_manager.filter(pk=pk).update(**dict(zip(fields, values, strict=True)))
                rows += 1
            self.stdout.write(f"{model._meta.label}: {rows} rows re-encrypted")
