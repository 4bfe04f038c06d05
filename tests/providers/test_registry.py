import pytest
from django.core.exceptions import ImproperlyConfigured

from providers.registry import PROVIDER_NAMES, capture_window_days, get_provider, reset_providers
from providers.routing import candidates


def test_each_provider_has_one_adapter_until_reset():
    adapters = {name: get_provider(name) for name in PROVIDER_NAMES}

    assert all(get_provider(name) is adapter for name, adapter in adapters.items())
    assert all(adapter.name == name for name, adapter in adapters.items())
    reset_providers()
    assert get_provider("cielo") is not adapters["cielo"]


def test_an_unknown_provider_name_is_refused():
    with pytest.raises(ValueError, match="stone"):
        get_provider("stone")


def test_reset_rereads_settings(settings):
    before = get_provider("rede")
    settings.PROVIDERS = {**settings.PROVIDERS, "rede": {**settings.PROVIDERS["rede"], "timeout": 0.1}}

    assert get_provider("rede") is before
    reset_providers()
    assert get_provider("rede") is not before


def test_capture_window_comes_from_settings(settings):
    settings.PROVIDERS = {**settings.PROVIDERS, "getnet": {**settings.PROVIDERS["getnet"], "capture_window_days": 5}}

    assert capture_window_days("getnet") == 5


def test_routing_follows_the_configured_order(settings):
    settings.PROVIDER_ROUTING_ORDER = ["rede", "getnet", "rede", "cielo"]

    assert candidates(currency="JPY", amount=500) == ["rede", "getnet", "cielo"]


def test_routing_refuses_an_unknown_provider(settings):
    settings.PROVIDER_ROUTING_ORDER = ["cielo", "stone"]

    with pytest.raises(ImproperlyConfigured, match="stone"):
        candidates(currency="BRL", amount=100)
