"""The provider adapters by name, built from settings.PROVIDERS. One instance per provider per
process, so that each keeps its HTTP connection pool (and Getnet its access token) across calls,
each behind its circuit breaker and retry policy (`resilience.ResilientProvider`)."""

import threading
from collections.abc import Callable, Mapping
from typing import Any

from django.conf import settings

from .adapters.cielo import CieloAdapter
from .adapters.getnet import GetnetAdapter
from .adapters.rede import RedeAdapter
from .circuits import circuit_breaker, reset_circuits
from .resilience import ResilientProvider, RetryPolicy

PROVIDER_NAMES = ("cielo", "rede", "getnet")

Adapter = CieloAdapter | RedeAdapter | GetnetAdapter

_FACTORIES: dict[str, Callable[[Mapping[str, Any]], Adapter]] = {
    "cielo": CieloAdapter.from_config,
    "rede": RedeAdapter.from_config,
    "getnet": GetnetAdapter.from_config,
}
_instances: dict[str, ResilientProvider] = {}
_lock = threading.Lock()


def get_provider(name: str) -> ResilientProvider:
    """The adapter for `name` (one of PROVIDER_NAMES) behind its circuit breaker; ValueError for
    any other name."""
    if name not in _FACTORIES:
        raise ValueError(f"unknown provider {name!r}; expected one of {', '.join(PROVIDER_NAMES)}")
    with _lock:
        if name not in _instances:
            adapter = _FACTORIES[name](settings.PROVIDERS[name])
            _instances[name] = ResilientProvider(
                adapter, circuit=circuit_breaker(name), retry=RetryPolicy.from_settings()
            )
        return _instances[name]


def reset_providers() -> None:
    """Close and forget every adapter and the state of every circuit breaker, so that the next
    get_provider() starts again from settings. For tests, between cases: the circuits' state is
    shared by every process, so nothing in production calls it."""
    with _lock:
        for provider in _instances.values():
            provider.close()
        _instances.clear()
        reset_circuits(*PROVIDER_NAMES)


def capture_window_days(name: str) -> int:
    """How long an authorization of this provider can still be captured."""
    return int(settings.PROVIDERS[name]["capture_window_days"])
