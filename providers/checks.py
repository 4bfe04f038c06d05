"""System checks (`manage.py check`, run by every management command and at startup): a provider
misconfiguration is reported before the first payment meets it."""

from collections.abc import Callable
from typing import Any

from django.conf import settings
from django.core import checks
from django.core.exceptions import ImproperlyConfigured

from . import routing
from .circuits import CircuitConfig
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


# The secrets each provider's settings carry, and the environment variable that sets each one.
SECRET_SETTINGS = {
    "cielo": {"merchant_key": "CIELO_MERCHANT_KEY", "webhook_secret": "CIELO_WEBHOOK_SECRET"},
    "rede": {"token": "REDE_TOKEN", "webhook_secret": "REDE_WEBHOOK_SECRET"},
    "getnet": {"client_secret": "GETNET_CLIENT_SECRET", "webhook_secret": "GETNET_WEBHOOK_SECRET"},
}
SANDBOX_DEFAULT_PREFIX = "sandbox-"  # every default in config/settings/base.py starts so


def provider_secrets_set(app_configs: Any = None, **kwargs: Any) -> list[checks.CheckMessage]:
    """`check --deploy`: a provider secret left at its sandbox default is public (it is in this
    repository), so anyone could sign notifications that we would accept as the provider's."""
    left = [
        variable
        for name, secrets in SECRET_SETTINGS.items()
        for key, variable in secrets.items()
        if str(settings.PROVIDERS.get(name, {}).get(key, "")).startswith(SANDBOX_DEFAULT_PREFIX)
    ]
    if not left:
        return []
    return [
        checks.Warning(
            f"Provider secrets left at their sandbox defaults: {', '.join(left)}",
            hint="Set them to the credentials and webhook secrets each provider gave you; "
            "the defaults are public and only fit the sandbox.",
            id="providers.W003",
        )
    ]


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
