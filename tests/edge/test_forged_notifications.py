"""Production, under gunicorn, never takes a notification signed with a public sandbox secret for
the provider's: a forged chargeback opens no dispute and moves no money."""

import time

import pytest
from django.conf import settings

from payments.models import Dispute
from sandbox import Credentials, SandboxSettings
from sandbox.notifications import signed_headers
from tests.fixtures.gunicorn_server import LIVE_PROVIDER_SECRETS
from tests.webhooks.helpers import sandbox_dispute, synthetic

PUBLIC_DEFAULTS = {"cielo": "sandbox-cielo-webhook-secret", "rede": "sandbox-rede-webhook-secret"}
PUBLIC_DEFAULTS["getnet"] = "sandbox-getnet-webhook-secret"


def _chargeback(provider: str, secret: str) -> tuple[dict, bytes]:
    dispute = sandbox_dispute(provider, amount=1_000)
    body = synthetic(provider, "dispute_opened", payment_id="pay_forged", amount=1_000, dispute=dispute).body
    sandbox = SandboxSettings(credentials=Credentials(**{f"{provider}_webhook_secret": secret}))
    return signed_headers(sandbox, provider, body, time.time()), body


@pytest.mark.parametrize("provider", sorted(PUBLIC_DEFAULTS))
def test_a_chargeback_signed_with_the_public_sandbox_secret_is_refused(gunicorn_server, provider):
    assert settings.PROVIDERS[provider]["webhook_secret"] == PUBLIC_DEFAULTS[provider]  # what anyone can read
    headers, body = _chargeback(provider, PUBLIC_DEFAULTS[provider])

    with gunicorn_server.client() as client:
        response = client.post(f"/webhooks/providers/{provider}/", content=body, headers=headers)

    assert response.status_code == 400, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "invalid_signature"
    assert not Dispute.objects.exists()


@pytest.mark.parametrize("provider", sorted(PUBLIC_DEFAULTS))
def test_the_same_chargeback_signed_with_the_configured_secret_is_received(gunicorn_server, provider):
    headers, body = _chargeback(provider, LIVE_PROVIDER_SECRETS[f"{provider.upper()}_WEBHOOK_SECRET"])

    with gunicorn_server.client() as client:
        response = client.post(f"/webhooks/providers/{provider}/", content=body, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["received"] is True
