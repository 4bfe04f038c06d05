"""System checks of the shared kernel: a bad encryption key is reported at startup, not when the
first webhook endpoint is created or signed for."""

from typing import Any

from cryptography.fernet import Fernet
from django.conf import settings
from django.core import checks


def encryption_keys(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    for position, key in enumerate(settings.FIELD_ENCRYPTION_KEYS, start=1):
        try:
            Fernet(key)
        except ValueError:
            messages.append(
                checks.Error(
                    f"FIELD_ENCRYPTION_KEYS: key {position} is not a Fernet key (32 url-safe base64-encoded bytes)",
                    hint='Make one with: python -c "from cryptography.fernet import Fernet; '
                    'print(Fernet.generate_key().decode())"',
                    id="core.E001",
                )
            )
    return messages
