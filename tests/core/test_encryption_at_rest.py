"""Secrets we must read back (webhook signing secrets, and stored idempotent answers, which can
carry one) are encrypted in the database: a dump or a read-only SQL session does not reveal them."""

import io

import pytest
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from core import checks, crypto
from core.models import IdempotencyKey
from outbox.models import WebhookEndpoint
from outbox.services import endpoint_create
from tests.payments.helpers import new_key, post


def _columns(sql: str, params: list) -> tuple:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()


def _stored_secrets(endpoint_id: str) -> tuple[str, str]:
    return _columns("SELECT secret, previous_secret FROM outbox_webhookendpoint WHERE id = %s", [endpoint_id])


@pytest.mark.django_db
def test_a_webhook_secret_and_the_answer_that_showed_it_are_stored_encrypted(api, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # no DNS lookup of the example host
    key = new_key()
    created = post(api, "/webhook-endpoints", {"url": "https://hooks.example.com/in", "event_types": ["*"]}, key=key)
    assert created.status_code == 201, created.content
    endpoint_id, secret = created.json()["id"], created.json()["secret"]

    stored_secret, stored_previous = _stored_secrets(endpoint_id)
    assert secret not in stored_secret and stored_previous == ""
    assert WebhookEndpoint.objects.get(pk=endpoint_id).secret == secret  # read back in clear

    (stored_answer,) = _columns("SELECT response_body FROM core_idempotencykey WHERE key = %s", [key])
    assert secret not in stored_answer and endpoint_id not in stored_answer
    replay = post(api, "/webhook-endpoints", {"url": "https://hooks.example.com/in", "event_types": ["*"]}, key=key)
    assert replay.json()["secret"] == secret  # the replay is still the same answer

    rotated = post(api, f"/webhook-endpoints/{endpoint_id}/rotate-secret", {})
    assert rotated.status_code == 200, rotated.content
    stored_secret, stored_previous = _stored_secrets(endpoint_id)
    assert rotated.json()["secret"] not in stored_secret and secret not in stored_previous
    endpoint = WebhookEndpoint.objects.get(pk=endpoint_id)
    assert (endpoint.secret, endpoint.previous_secret) == (rotated.json()["secret"], secret)


def test_secrets_stay_readable_when_secret_key_is_rotated_with_a_fallback(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "old-" + "k" * 60, []
    token = crypto.encrypt("whsec_abc")

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "new-" + "k" * 60, ["old-" + "k" * 60]
    assert crypto.decrypt(token) == "whsec_abc"

    settings.SECRET_KEY_FALLBACKS = []  # the old key dropped too early
    with pytest.raises(ImproperlyConfigured, match="cannot be decrypted"):
        crypto.decrypt(token)


@pytest.mark.django_db
def test_field_encryption_keys_rotate_the_first_key_encrypts(merchant, settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.FIELD_ENCRYPTION_KEYS = [old]
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True
    endpoint, secret = endpoint_create(merchant_id=merchant.id, url="http://127.0.0.1:9/in", event_types=["*"])
    token = crypto.encrypt("whsec_abc")

    settings.FIELD_ENCRYPTION_KEYS = [new, old]
    assert crypto.decrypt(token) == "whsec_abc"
    call_command("reencrypt_secrets", stdout=io.StringIO())

    settings.FIELD_ENCRYPTION_KEYS = [new]
    assert WebhookEndpoint.objects.get(pk=endpoint.pk).secret == secret
    with pytest.raises(ImproperlyConfigured):
        crypto.decrypt(token)


def test_a_malformed_encryption_key_fails_the_system_check(settings):
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode(), "not-a-key"]

    (error,) = checks.encryption_keys()
    assert (error.id, "key 2" in error.msg) == ("core.E001", True)
    settings.FIELD_ENCRYPTION_KEYS = [Fernet.generate_key().decode()]
    assert checks.encryption_keys() == []


@pytest.mark.django_db(transaction=True)
def test_the_migrations_encrypt_what_was_stored_in_clear(merchant):
    call_command("migrate", "outbox", "0001", verbosity=0)
    call_command("migrate", "core", "0001", verbosity=0)
    try:
        with connection.cursor() as cursor:
            cursor.execute(
                "INSERT INTO outbox_webhookendpoint (id, merchant_id, url, event_types, status, disabled_reason, "
                "secret, previous_secret, previous_secret_expires_at, created_at, updated_at) VALUES "
                "('we_clear', %s, 'https://hooks.example.com/in', '[\"*\"]', 'enabled', '', 'whsec_new', "
                "'whsec_old', now() + interval '1 day', now(), now())",
                [merchant.id],
            )
            cursor.execute(
                "INSERT INTO core_idempotencykey (merchant_id, key, request_method, request_path, "
                "request_fingerprint, state, response_status, response_body, response_content_type, created_at, "
                "locked_at) VALUES (%s, 'clear-answer', 'POST', '/x', 'f', 'completed', 201, "
                "'{\"secret\": \"whsec_new\"}', 'application/json', now(), now())",
                [merchant.id],
            )
    finally:
        call_command("migrate", verbosity=0)

    assert "whsec" not in "".join(_stored_secrets("we_clear"))
    endpoint = WebhookEndpoint.objects.get(pk="we_clear")
    assert (endpoint.secret, endpoint.previous_secret) == ("whsec_new", "whsec_old")
    answer = IdempotencyKey.objects.get(merchant=merchant, key="clear-answer")
    assert answer.response_body == '{"secret": "whsec_new"}'
    (stored_answer,) = _columns("SELECT response_body FROM core_idempotencykey WHERE key = 'clear-answer'", [])
    assert "whsec" not in stored_answer
