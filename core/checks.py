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


def production_defaults_refused(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Where public defaults are refused (production), the settings that would otherwise fall back
    to something guessable or open are errors, and the process does not start (core.startup)."""
    if not settings.REFUSE_PUBLIC_DEFAULTS:
        return []
    messages: list[checks.CheckMessage] = []
    if not settings.FIELD_ENCRYPTION_KEYS:
        messages.append(
            checks.Error(
                "FIELD_ENCRYPTION_KEYS is not set: stored secrets would be encrypted with a key derived "
                "from SECRET_KEY, so one leaked value would expose both",
                hint='Set it to a Fernet key of its own: python -c "from cryptography.fernet import Fernet; '
                'print(Fernet.generate_key().decode())"',
                id="core.E002",
            )
        )
    if "*" in settings.ALLOWED_HOSTS:
        messages.append(
            checks.Error(
                "ALLOWED_HOSTS contains '*': any Host header would be trusted (password-reset links, "
                "absolute URLs, cache poisoning)",
                hint="List the host names the service answers to.",
                id="core.E003",
            )
        )
    return messages
