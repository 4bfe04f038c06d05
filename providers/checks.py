"""System checks (`manage.py check`, run by every management command and at startup): a provider
misconfiguration is reported before the first payment meets it."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from . import routing
from .circuits import CircuitConfig
from .credentials import CREDENTIAL_SETTINGS, SANDBOX_DEFAULT_PREFIX
from .registry import PROVIDER_NAMES
from .resilience import RetryPolicy


def provider_settings(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    messages: list[checks.CheckMessage] = []
    providers = settings.PROVIDERS
    for name in PROVIDER_NAMES:
        config = providers.get(name)
        if not isinstance(config, dict):
            messages.append(checks.Error(f"PROVIDERS has no settings for {name!r}", id="providers.E001"))
            continue
        if not str(config.get("base_url", "")).startswith(("http://", "https://")):
            messages.append(
                checks.Error(f"PROVIDERS[{name!r}]['base_url'] must be an http(s) URL", id="providers.E002")
            )
        timeout = config.get("timeout")
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or timeout <= 0:
            messages.append(
                checks.Error(f"PROVIDERS[{name!r}]['timeout'] must be a positive number", id="providers.E003")
            )
    loaders: list[tuple[Callable[[], object], str]] = [
        (routing.default_order, "providers.E004"),
        (routing.routing_rules, "providers.E005"),
        (CircuitConfig.from_settings, "providers.E006"),
        (RetryPolicy.from_settings, "providers.E007"),
    ]
    for load, check_id in loaders:
        try:
            load()
        except ImproperlyConfigured as exc:
            messages.append(checks.Error(str(exc), id=check_id))
    if not messages:
        messages += _trial_lease_covers_a_call(providers)
    return messages


def _trial_lease_covers_a_call(providers: dict[str, dict[str, Any]]) -> list[checks.CheckMessage]:
    lease = CircuitConfig.from_settings().trial_lease_seconds
    longest = max(config["timeout"] for config in providers.values()) * RetryPolicy.from_settings().attempts
    if lease >= longest:
        return []
    return [
        checks.Warning(
            f"PROVIDER_CIRCUIT_BREAKER['trial_lease_seconds'] ({lease:g}) is shorter than a call can take "
            f"({longest:g} s: the longest provider timeout times PROVIDER_RETRY['attempts'])",
            hint="A half-open trial that outlives its lease lets a second trial call through.",
            id="providers.W001",
        )
    ]


def credentials_left_at_sandbox_defaults() -> list[str]:
    """The variables whose value is still a public sandbox default. The defaults are in this
    repository, so anyone could sign notifications with them that we would take for the provider's."""
    return [
        variable
        for name, credentials in CREDENTIAL_SETTINGS.items()
        for key, variable in credentials.items()
        if str(settings.PROVIDERS.get(name, {}).get(key, "")).startswith(SANDBOX_DEFAULT_PREFIX)
    ]


def provider_credentials_not_public(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """Where public defaults are refused (production), a sandbox credential is an error and the
    process does not start (core.startup)."""
    left = credentials_left_at_sandbox_defaults()
    if not left or not settings.REFUSE_PUBLIC_DEFAULTS:
        return []
    return [checks.Error(_left_message(left), hint=_LEFT_HINT, id="providers.E008")]


def provider_credentials_set(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """`check --deploy` elsewhere (a staging copy of the settings, say): a warning."""
    left = credentials_left_at_sandbox_defaults()
    if not left or settings.REFUSE_PUBLIC_DEFAULTS:
        return []
    return [checks.Warning(_left_message(left), hint=_LEFT_HINT, id="providers.W003")]


def _left_message(left: list[str]) -> str:
    return f"Provider credentials left at their public sandbox defaults: {', '.join(left)}"


_LEFT_HINT = "Set them to the credentials and webhook secrets each provider gave you."


def breakers_shared(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """`check --deploy`: without Redis, each process keeps circuit breakers of its own."""
    if settings.REDIS_URL:
        return []
    return [
        checks.Warning(
            "REDIS_URL is not set: each process keeps its own provider circuit breakers",
            hint="Set REDIS_URL so that web and worker processes share the breakers' state.",
            id="providers.W002",
        )
    ]
