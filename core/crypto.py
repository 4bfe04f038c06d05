"""Encryption at rest for secrets we must read back: a merchant's webhook signing secret signs
every delivery, so a digest (as for API keys) will not do.

Fernet (AES-128-CBC with HMAC-SHA256, from `cryptography`), through MultiFernet so keys can be
rotated: the first key encrypts, every key decrypts (`manage.py reencrypt_secrets` then rewrites
what the old key encrypted). The keys are FIELD_ENCRYPTION_KEYS when set;
otherwise they are derived (HKDF-SHA256) from SECRET_KEY and then SECRET_KEY_FALLBACKS, so
rotating SECRET_KEY the Django way (the old one kept as a fallback) keeps old values readable.
"""

import base64
from functools import cache

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

_PURPOSE = b"payments_core:encrypted-fields"


def encrypt(text: str) -> str:
    return _fernet(_keys()).encrypt(text.encode()).decode("ascii")


def decrypt(token: str) -> str:
    try:
        return _fernet(_keys()).decrypt(token.encode("ascii")).decode()
    except InvalidToken:
        raise ImproperlyConfigured(
            "A stored secret cannot be decrypted with the configured keys: FIELD_ENCRYPTION_KEYS "
            "(or SECRET_KEY and SECRET_KEY_FALLBACKS) lost the key it was encrypted with."
        ) from None


def _keys() -> tuple[bytes, ...]:
    if settings.FIELD_ENCRYPTION_KEYS:
        return tuple(key.encode("ascii") for key in settings.FIELD_ENCRYPTION_KEYS)
    return tuple(_derive(secret) for secret in [settings.SECRET_KEY, *settings.SECRET_KEY_FALLBACKS] if secret)


@cache
def _derive(secret_key: str) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_PURPOSE).derive(secret_key.encode())
    return base64.urlsafe_b64encode(key)


@cache
def _fernet(keys: tuple[bytes, ...]) -> MultiFernet:
    if not keys:
        raise ImproperlyConfigured("No key to encrypt secrets with: set SECRET_KEY or FIELD_ENCRYPTION_KEYS.")
    return MultiFernet([Fernet(key) for key in keys])
