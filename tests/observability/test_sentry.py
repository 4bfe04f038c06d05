"""Sentry, with the project's options (core.sentry.sentry_options, what settings use) and a
transport that keeps what would be sent: errors in an API view and in a Celery task arrive with
their type and where they happened, and without a card number, an API key, a signature or a
webhook secret anywhere in the envelope."""

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import sentry_sdk
from django.urls import path
from rest_framework.response import Response
from rest_framework.views import APIView
from sentry_sdk.transport import Transport

from core.sentry import release, sentry_options
from outbox.services import secret_generate
from payments import services, tasks

ROOT = Path(__file__).resolve().parent.parent.parent
PAN = "4242424242424242"
SIGNATURE = "sha256=5257a869e7ecebeda32affa62cdca3fa51cad7e77a0e56ff536d0ce8e108d8bd"
PROVIDER_SECRET = "cielo-webhook-secret-value-0042"


class CollectingTransport(Transport):
    """Keeps every envelope, serialized as it would be sent."""

    def __init__(self, options=None):
        super().__init__(options)
        self.envelopes: list[str] = []

    def capture_envelope(self, envelope) -> None:
        self.envelopes.append(envelope.serialize().decode())

    def text(self) -> str:
        """Every envelope, plus each JSON string in it unescaped (the SDK escapes non-ASCII)."""
        strings = list(self.envelopes)
        for envelope in self.envelopes:
            for line in envelope.splitlines():
                try:
                    stack = [json.loads(line)]
                except ValueError:
                    continue
                while stack:
                    item = stack.pop()
                    if isinstance(item, dict):
                        strings.extend(map(str, item))
                        stack.extend(item.values())
                    elif isinstance(item, list):
                        stack.extend(item)
                    elif isinstance(item, str):
                        strings.append(item)
        return "\n".join(strings)


@pytest.fixture
def sentry():
    transport = CollectingTransport()
    previous = sentry_sdk.get_client()
    sentry_sdk.init(**sentry_options(dsn="http://public@sentry.invalid/1", transport=transport))
    yield transport
    sentry_sdk.get_client().close()
    sentry_sdk.get_global_scope().set_client(previous)


class BoomView(APIView):
    """A view with a bug, its locals holding what must not leave."""

    def post(self, request):
        card = PAN
        webhook_secret = PROVIDER_SECRET
        endpoint_secret = secret_generate()
        signature = request.headers["X-Cielo-Signature"]
        logging.getLogger("tests.observability").warning(
            "about to fail", extra={"webhook_secret": webhook_secret, "secret_seen": endpoint_secret}
        )
        # (A signature quoted in free text has no shape to be recognized by: it is not put here.)
        raise RuntimeError(f"provider echoed card {card} with {endpoint_secret} ({len(signature)})")


class FineView(APIView):
    def get(self, request):
        return Response({})


urlpatterns = [path("api/v1/boom", BoomView.as_view()), path("api/v1/fine", FineView.as_view())]


def _assert_nothing_secret(text: str, *secrets: str) -> None:
    for secret in (PAN, SIGNATURE, PROVIDER_SECRET, SIGNATURE.removeprefix("sha256="), *secrets):
        assert secret not in text, secret
    assert "whsec_" not in text.replace("whsec_[REDACTED]", "")


@pytest.mark.django_db
def test_an_error_in_an_api_view_reaches_sentry_without_secrets(sentry, settings, api_key):
    from rest_framework.test import APIClient

    settings.ROOT_URLCONF = __name__
    client = APIClient()
    response = client.post(
        "/api/v1/boom",
        {},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {api_key}",
        HTTP_X_CIELO_SIGNATURE=SIGNATURE,
        HTTP_IDEMPOTENCY_KEY="boom-1",
    )
    assert response.status_code == 500

    assert sentry.envelopes, "nothing reached the transport"
    text = sentry.text()
    assert "RuntimeError" in text
    assert "/api/v1/boom" in text
    assert "424242******4242" in text  # the card number was there, masked
    assert "about to fail" in text  # the warning before, as a breadcrumb
    _assert_nothing_secret(text, api_key)


@pytest.mark.django_db
def test_an_error_in_a_celery_task_reaches_sentry_without_secrets(sentry, monkeypatch):
    def resolve_with_a_bug(*, operation_id):
        webhook_secret = PROVIDER_SECRET
        api_key = "sk_live_abcdefghijklmnop1234"
        headers = {"Authorization": f"Bearer {api_key}", "X-Cielo-Signature": SIGNATURE}
        raise ValueError(
            f"provider said {PAN} for {operation_id} with {api_key} ({len(headers)}, {len(webhook_secret)})"
        )

    monkeypatch.setattr(services, "operation_resolve", resolve_with_a_bug)

    result = tasks.resolve_provider_operation.apply(args=["op_1"])

    assert result.failed()
    text = sentry.text()
    assert "ValueError" in text
    assert "payments.tasks.resolve_provider_operation" in text
    _assert_nothing_secret(text, "sk_live_abcdefghijklmnop1234")


def test_the_options_name_environment_release_and_integrations():
    options = sentry_options(
        dsn="http://public@sentry.invalid/1",
        environ={"SENTRY_ENVIRONMENT": "staging", "SENTRY_RELEASE": "2026.12.1", "SENTRY_TRACES_SAMPLE_RATE": "0.25"},
    )

    assert (options["environment"], options["release"], options["traces_sample_rate"]) == ("staging", "2026.12.1", 0.25)
    assert options["send_default_pii"] is False
    assert {type(i).__name__ for i in options["integrations"]} == {
        "DjangoIntegration",
        "CeleryIntegration",
        "LoggingIntegration",
    }


def test_the_release_is_the_build_commit_else_the_checkout_else_the_version(monkeypatch, tmp_path):
    assert release({"GIT_COMMIT": "abc123"}) == "abc123"
    assert release({"SENTRY_RELEASE": "r1", "GIT_COMMIT": "abc123"}) == "r1"
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True).stdout.strip()
    assert release({}) == head

    monkeypatch.setattr("core.sentry.ROOT", tmp_path)  # no .git here: the package version
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "payments-core"\nversion = "9.9.9"\n')
    assert release({}) == "payments-core@9.9.9"


def test_settings_turn_sentry_on_with_these_options_in_every_process_that_loads_them():
    """A Celery worker or beat loads settings through the app's config: Sentry is on there too."""
    probe = (
        "from config.celery import app; app.conf.broker_url; import sentry_sdk; c = sentry_sdk.get_client(); "
        "print(c.is_active(), c.options['environment'], c.options['release'], "
        "','.join(sorted(c.integrations)), c.options['before_send'].__name__)"
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.local",
        "SENTRY_DSN": "http://public@sentry.invalid/1",
        "SENTRY_ENVIRONMENT": "ci",
        "SENTRY_RELEASE": "r-42",
    }
    answer = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    active, environment, release_name, integrations, before_send = answer.stdout.split()
    assert (active, environment, release_name, before_send) == ("True", "ci", "r-42", "sentry_before_send")
    assert {"django", "celery", "logging"} <= set(integrations.split(","))
