"""Rate limits (core/throttling.py), through the test client, against the real Redis."""

import logging
import re
import threading
import uuid
from types import SimpleNamespace
from unittest import mock

import pytest
from django.core.checks import Error
from django.core.exceptions import ValidationError
from django.test import RequestFactory
from prometheus_client import REGISTRY
from rest_framework.test import APIClient

from core.throttling import consume, parse_rate, rate_settings
from tests.payments.helpers import payment_body

PAYMENTS = "/api/v1/payments"
WEBHOOK = "/webhooks/providers/cielo/"


@pytest.fixture(autouse=True)
def own_counters(settings):
    """Counters of this test only: windows last up to an hour, and runs share one Redis."""
    settings.RATELIMIT_CACHE_PREFIX = f"rl:test:{uuid.uuid4().hex}:"


def reset_of(response) -> int:
    match = re.fullmatch(r'"\w+";r=\d+;t=(\d+)', response["RateLimit"])
    assert match, response["RateLimit"]
    return int(match.group(1))


def assert_rate_limited(response, scope: str, quota: int, window: int) -> None:
    assert response.status_code == 429
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "rate_limited"
    assert body["status"] == 429
    assert body["type"].endswith("/rate_limited")
    assert set(body) == {"type", "title", "status", "detail", "code", "errors"}
    assert response["RateLimit-Policy"] == f'"{scope}";q={quota};w={window}'
    reset = reset_of(response)
    assert response["RateLimit"] == f'"{scope}";r=0;t={reset}'
    assert 1 <= reset <= window
    assert response["Retry-After"] == str(reset)


def test_an_api_key_over_its_limit_gets_429_and_another_key_does_not(settings, api, other_api):
    settings.RATE_LIMIT_API = "3/h"
    for remaining in (2, 1, 0):
        response = api.get(PAYMENTS)
        assert response.status_code == 200
        assert response["RateLimit-Policy"] == '"api";q=3;w=3600'
        assert response["RateLimit"] == f'"api";r={remaining};t={reset_of(response)}'
        assert "Retry-After" not in response

    assert_rate_limited(api.get(PAYMENTS), "api", 3, 3600)
    assert_rate_limited(api.post(PAYMENTS, payment_body(), format="json", HTTP_IDEMPOTENCY_KEY="k-1"), "api", 3, 3600)

    assert other_api.get(PAYMENTS).status_code == 200


def test_the_limit_is_per_api_key_not_per_merchant(settings, merchant, api):
    from merchants.services import api_key_issue

    settings.RATE_LIMIT_API = "1/h"
    assert api.get(PAYMENTS).status_code == 200
    assert api.get(PAYMENTS).status_code == 429
    second_key = APIClient()
    second_key.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_issue(merchant=merchant)}")
    assert second_key.get(PAYMENTS).status_code == 200


def test_a_merchants_own_rate_replaces_the_default(settings, merchant, api, other_api):
    settings.RATE_LIMIT_API = "1000/h"
    merchant.rate_limit = "2/m"
    merchant.save(update_fields=["rate_limit"])

    assert api.get(PAYMENTS)["RateLimit-Policy"] == '"api";q=2;w=60'
    assert api.get(PAYMENTS).status_code == 200
    assert_rate_limited(api.get(PAYMENTS), "api", 2, 60)

    # Its neighbour keeps the default.
    response = other_api.get(PAYMENTS)
    assert response.status_code == 200
    assert response["RateLimit-Policy"] == '"api";q=1000;w=3600'


def test_requests_without_a_valid_key_are_limited_per_address(settings, api):
    settings.RATE_LIMIT_ANONYMOUS = "3/h"
    anonymous = APIClient(REMOTE_ADDR="203.0.113.7")
    assert anonymous.get(PAYMENTS).status_code == 401
    assert anonymous.get(PAYMENTS, HTTP_AUTHORIZATION="Bearer sk_wrong").status_code == 401
    response = anonymous.get(PAYMENTS, HTTP_AUTHORIZATION="Bearer sk_wrong_again")
    assert response.status_code == 401
    assert response["RateLimit"] == f'"anonymous";r=0;t={reset_of(response)}'

    assert_rate_limited(anonymous.get(PAYMENTS), "anonymous", 3, 3600)
    assert_rate_limited(anonymous.get(PAYMENTS, HTTP_AUTHORIZATION="Bearer sk_guess"), "anonymous", 3, 3600)

    # Another address, and a valid key from the same address, are not affected.
    assert APIClient(REMOTE_ADDR="203.0.113.8").get(PAYMENTS).status_code == 401
    assert api.get(PAYMENTS, REMOTE_ADDR="203.0.113.7").status_code == 200


def test_provider_notifications_are_limited_per_address(settings):
    settings.RATE_LIMIT_PROVIDER_WEBHOOKS = "2/h"
    provider = APIClient(REMOTE_ADDR="198.51.100.20")
    for _ in range(2):
        response = provider.post(WEBHOOK, b"{}", content_type="application/json")
        assert response.status_code != 429
        assert response["RateLimit-Policy"] == '"provider_webhooks";q=2;w=3600'

    assert_rate_limited(provider.post(WEBHOOK, b"{}", content_type="application/json"), "provider_webhooks", 2, 3600)
    other = APIClient(REMOTE_ADDR="198.51.100.21").post(WEBHOOK, b"{}", content_type="application/json")
    assert other.status_code != 429


def test_with_the_cache_down_payments_go_through_and_it_is_counted_and_logged(settings, api, caplog):
    settings.RATE_LIMIT_API = "1/h"
    # Nothing listens on port 1: every cache call fails at once.
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": "redis://127.0.0.1:1/0"}
    }
    before = REGISTRY.get_sample_value("rate_limiter_fail_open_total", {"scope": "api"}) or 0.0

    with caplog.at_level(logging.WARNING, logger="core.throttling"):
        for number in range(3):
            response = api.post(PAYMENTS, payment_body(), format="json", HTTP_IDEMPOTENCY_KEY=f"down-{number}")
            assert response.status_code == 201, response.content
            assert "RateLimit" not in response

    assert REGISTRY.get_sample_value("rate_limiter_fail_open_total", {"scope": "api"}) == before + 3
    warnings = [r for r in caplog.records if r.name == "core.throttling" and r.levelno == logging.WARNING]
    assert len(warnings) == 3
    assert warnings[0].getMessage() == "rate limiter unavailable: request let through"
    assert warnings[0].scope == "api"
    assert "ConnectionError" in warnings[0].error


def test_concurrent_requests_never_get_more_than_the_limit_through():
    """32 threads, 160 requests at once on one key, against the real Redis: exactly the quota wins."""
    request = RequestFactory().get(PAYMENTS)
    allowed = []
    start = threading.Barrier(32)

    def work():
        start.wait()
        for _ in range(5):
            usage = consume(request, scope="api", rate="25/h", key=lambda group, request: "one-key")
            allowed.append(usage.allowed)

    threads = [threading.Thread(target=work) for _ in range(32)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)

    assert len(allowed) == 160
    assert allowed.count(True) == 25


def test_the_remaining_count_goes_down_one_by_one():
    request = RequestFactory().get(PAYMENTS)
    usages = [consume(request, scope="anonymous", rate="4/d", key="ip") for _ in range(5)]
    assert [u.remaining for u in usages] == [3, 2, 1, 0, 0]
    assert [u.allowed for u in usages] == [True, True, True, True, False]
    assert all(u.window == 86400 and 1 <= u.reset <= 86400 for u in usages)


@pytest.mark.parametrize(
    ("rate", "parsed"), [("200/s", (200, 1)), ("5000/m", (5000, 60)), ("10/h", (10, 3600)), ("300/5m", (300, 300))]
)
def test_rates_are_read(rate, parsed):
    assert parse_rate(rate) == parsed


@pytest.mark.parametrize("rate", ["", "fast", "0/s", "100", "100/x", "100/s/", "-1/s", "1.5/s", "100/0s", "100 / s"])
def test_malformed_rates_are_refused(rate):
    with pytest.raises(ValidationError):
        parse_rate(rate)


def test_a_malformed_rate_setting_fails_the_system_check(settings):
    assert rate_settings() == []
    settings.RATE_LIMIT_PROVIDER_WEBHOOKS = "lots"
    [error] = rate_settings()
    assert isinstance(error, Error)
    assert error.id == "core.E020"
    assert "RATE_LIMIT_PROVIDER_WEBHOOKS" in error.msg


def test_an_operator_sets_a_merchants_rate_in_the_admin(admin_client, merchant):
    url = f"/admin/merchants/merchant/{merchant.pk}/change/"
    form = {
        "name": merchant.name,
        "is_active": "on",
        "rate_limit": "sometimes",
        "api_keys-TOTAL_FORMS": "0",
        "api_keys-INITIAL_FORMS": "0",
    }
    refused = admin_client.post(url, form)
    assert refused.status_code == 200
    assert "is not a rate" in refused.content.decode()
    merchant.refresh_from_db()
    assert merchant.rate_limit == ""

    assert admin_client.post(url, {**form, "rate_limit": "5000/m"}).status_code == 302
    merchant.refresh_from_db()
    assert merchant.rate_limit == "5000/m"

    assert admin_client.post(url, {**form, "rate_limit": ""}).status_code == 302
    merchant.refresh_from_db()
    assert merchant.rate_limit == ""


def test_a_count_the_cache_did_not_give_back_fails_open(monkeypatch):
    """django-ratelimit's answer when add and incr both failed without raising (a key expired in
    between): the request goes through and is counted as a fail-open."""
    request = RequestFactory().get(PAYMENTS)
    monkeypatch.setattr(
        "core.throttling.get_usage",
        lambda *args, **kwargs: {"count": 0, "limit": 0, "should_limit": True, "time_left": -1},
    )
    before = REGISTRY.get_sample_value("rate_limiter_fail_open_total", {"scope": "anonymous"}) or 0.0
    assert consume(request, scope="anonymous", rate="1/s", key="ip") is None
    assert REGISTRY.get_sample_value("rate_limiter_fail_open_total", {"scope": "anonymous"}) == before + 1


def test_a_window_that_ended_while_counting_still_says_one_second():
    """A 1-second window chosen just before the clock ticks reports time_left -1: still a count."""
    request = RequestFactory().get(PAYMENTS)
    # Only django-ratelimit's clock: patching time.time itself would hand these two readings to
    # whichever thread of the process (the sandbox's, say) asks first.
    clock = SimpleNamespace(time=mock.Mock(side_effect=[1_000_000.99, 1_000_001.01]))
    with mock.patch("django_ratelimit.core.time", clock):
        usage = consume(request, scope="anonymous", rate="5/s", key=lambda group, request: uuid.uuid4().hex)
    assert usage is not None
    assert usage.count == 1
    assert usage.reset == 1
