"""Whatever reaches the endpoint, an adapter's verification either reads a notification or refuses
it with InvalidNotification: never another exception (which would be a 500 and a retry storm)."""

import json
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from providers import registry
from providers.port import InvalidNotification, ProviderNotification, ProviderPort
from sandbox.notifications import signed_headers
from tests.webhooks.helpers import sandbox_dispute, sandbox_settings, synthetic

PROVIDERS = ["cielo", "rede", "getnet"]
KINDS = ["authorization", "capture", "void", "refund", "dispute_opened", "dispute_won", "dispute_lost"]
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)


def _valid(provider: str, kind: str) -> dict:
    dispute = sandbox_dispute(provider, amount=5_000) if kind.startswith("dispute") else None
    return synthetic(provider, kind, payment_id="pay_1", key="re_1", dispute=dispute).data


def _paths(data, prefix=()) -> list[tuple]:
    paths = [prefix] if prefix else []
    if isinstance(data, dict):
        for key, value in data.items():
            paths.extend(_paths(value, (*prefix, key)))
    return paths


def _replaced(data: dict, path: tuple, value) -> dict:
    copy = json.loads(json.dumps(data))
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return copy


def _read(provider: str, headers: dict, body: bytes) -> ProviderNotification | InvalidNotification:
    try:
        return registry.get_provider(provider).verify_notification(
            headers, body, now=time.time(), tolerance_seconds=300
        )
    except InvalidNotification as refused:
        return refused


def test_each_providers_notifications_of_every_kind_read_back():
    for provider in PROVIDERS:
        for kind in KINDS:
            body = json.dumps(_valid(provider, kind)).encode()
            notification = _read(provider, signed_headers(sandbox_settings(), provider, body), body)
            assert isinstance(notification, ProviderNotification), (provider, kind, notification)
            assert (notification.kind, notification.payment_reference) == (kind, "pay_1")


@settings(max_examples=150, deadline=None)
@given(
    provider=st.sampled_from(PROVIDERS),
    headers=st.dictionaries(st.text(max_size=30), st.text(max_size=80), max_size=4),
    body=st.binary(max_size=200),
)
def test_anything_unsigned_is_refused(provider, headers, body):
    assert isinstance(_read(provider, headers, body), InvalidNotification)


@settings(max_examples=400, deadline=None)
@given(provider=st.sampled_from(PROVIDERS), kind=st.sampled_from(KINDS), data=st.data(), value=JSON)
def test_a_signed_notification_with_any_field_changed_is_read_or_refused_as_malformed(provider, kind, data, value):
    valid = _valid(provider, kind)
    path = data.draw(st.sampled_from(_paths(valid)))
    body = json.dumps(_replaced(valid, path, value)).encode()

    outcome = _read(provider, signed_headers(sandbox_settings(), provider, body), body)

    assert isinstance(outcome, ProviderNotification) or outcome.reason == "malformed", outcome


def test_a_provider_without_notifications_refuses_them_and_dispute_answers():
    class Quiet(ProviderPort):
        name = "quiet"

    quiet = Quiet()

    try:
        quiet.verify_notification({}, b"{}", now=time.time(), tolerance_seconds=300)
    except InvalidNotification as refused:
        assert refused.reason == "not_supported"
    else:
        raise AssertionError("a provider without notifications accepted one")
    assert quiet.respond_to_dispute(None).failure_code == "not_supported"
