from django.db import models

from core import crypto


class EncryptedTextField(models.TextField):
    """Text stored encrypted (core.crypto) and read back in clear. The empty string is stored as
    is, so constraints can still tell "no value" from a value; other values cannot be looked up
    (each encryption differs)."""

    def from_db_value(self, value, expression, connection):
        return crypto.decrypt(value) if value else value

    def get_prep_value(self, value):
        value = super().get_prep_value(value)
        return crypto.encrypt(value) if value else value
