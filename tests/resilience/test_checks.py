"""The system check reports provider misconfigurations before a payment meets them."""

import pytest

from providers.checks import breakers_shared, provider_settings
from providers.registry import get_provider


def ids(messages) -> list[str]:
    return [message.id for message in messages]


def test_the_shipped_settings_pass():
    assert provider_settings() == []


@pytest.mark.parametrize(
    ("setting", "value", "check_id"),
    [
        ("PROVIDER_ROUTING_ORDER", ["cielo", "stone"], "providers.E004"),
        ("PROVIDER_ROUTING_ORDER", [], "providers.E004"),
        ("PROVIDER_CIRCUIT_BREAKER", {"failure_threshold": 0}, "providers.E006"),
        ("PROVIDER_CIRCUIT_BREAKER", {"failure_rate": 1.5}, "providers.E006"),
        ("PROVIDER_CIRCUIT_BREAKER", {"cooldown_seconds": -1}, "providers.E006"),
        ("PROVIDER_CIRCUIT_BREAKER", {"cool_down": 30}, "providers.E006"),
        ("PROVIDER_RETRY", {"attempts": 0}, "providers.E007"),
        ("PROVIDER_RETRY", {"base_delay_seconds": "fast"}, "providers.E007"),
    ],
)
def test_a_bad_setting_is_an_error(settings, setting, value, check_id):
    setattr(settings, setting, value)

    assert ids(provider_settings()) == [check_id]


def test_a_provider_without_settings_or_with_a_bad_url_or_timeout_is_an_error(settings):
    settings.PROVIDERS = {
        "cielo": {**settings.PROVIDERS["cielo"], "base_url": "ftp://cielo"},
        "rede": {**settings.PROVIDERS["rede"], "timeout": 0},
    }

    assert ids(provider_settings()) == ["providers.E002", "providers.E003", "providers.E001"]


def test_a_trial_lease_shorter_than_a_call_is_a_warning(settings):
    settings.PROVIDER_CIRCUIT_BREAKER = {**settings.PROVIDER_CIRCUIT_BREAKER, "trial_lease_seconds": 1.0}

    assert ids(provider_settings()) == ["providers.W001"]


def test_the_deploy_check_warns_when_breakers_are_not_shared(settings):
    settings.REDIS_URL = ""

    assert ids(breakers_shared()) == ["providers.W002"]
    assert get_provider("cielo").circuit.allow() is not None  # each process keeps its own
