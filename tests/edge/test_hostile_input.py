"""Hostile input at the real server (gunicorn, production settings) is a 4xx problem, never a
500: the query-parameter grammar on every list, NUL characters in a path, and signed provider
bodies no reader could take (nested thousands deep, carrying a NUL)."""

import json
import time
import uuid

import pytest

from merchants.services import api_key_issue
from sandbox import Credentials, SandboxSettings
from sandbox.notifications import signed_headers
from tests.factories import MerchantFactory
from tests.fixtures.gunicorn_server import LIVE_PROVIDER_SECRETS
from tests.payments.helpers import payment_body

PROBLEM = "application/problem+json"

# Each refused by the grammar (core.api.query): only ASCII digits, 1 to 100.
BAD_LIMITS = [
    "²",  # str.isdigit() says yes, int() says no
    "+5",
    "\u0665",  # Arabic-Indic five: int() would read 5
    "\uff11\uff10",  # fullwidth 10
    " 5",
    "5 ",
    "0",
    "101",
    "-1",
    "5.0",
    "1e2",
    "0x10",
    "",
    "9" * 40,
]


@pytest.fixture
def merchant_http(gunicorn_server):
    """An HTTP client of the live server, as a merchant with a payment and a wallet."""
    key = api_key_issue(merchant=MerchantFactory())
    client = gunicorn_server.client(headers={"Authorization": f"Bearer {key}"})
    payment = client.post("/api/v1/payments", json=payment_body(), headers={"Idempotency-Key": uuid.uuid4().hex}).json()
    wallet = client.post(
        "/api/v1/wallets", json={"currency": "BRL"}, headers={"Idempotency-Key": uuid.uuid4().hex}
    ).json()
    client.lists = [
        "/api/v1/payments",
        f"/api/v1/payments/{payment['id']}/events",
        "/api/v1/disputes",
        f"/api/v1/wallets/{wallet['id']}/movements",
        "/api/v1/webhook-endpoints",
        "/api/v1/events",
    ]
    yield client
    client.close()


def _assert_problem(response, status: int, code: str, field: str | None = None) -> None:
    assert response.status_code == status, (response.request.url, response.text)
    assert response.headers["content-type"] == PROBLEM
    body = response.json()
    assert body["code"] == code
    if field is not None:
        assert [error["field"] for error in body["errors"]] == [field]


def test_every_list_refuses_a_limit_that_is_not_ascii_digits_from_1_to_100(merchant_http):
    for path in merchant_http.lists:
        ok = merchant_http.get(path, params={"limit": "7"})
        assert ok.status_code == 200, (path, ok.text)
        for limit in BAD_LIMITS:
            _assert_problem(merchant_http.get(path, params={"limit": limit}), 400, "validation_error", "limit")


@pytest.mark.parametrize(
    "params",
    [
        {"created_gte": "\u0662\u0660\u0662\u0666-01-01T00:00:00Z"},  # Arabic-Indic digits
        {"created_gte": " 2026-01-01T00:00:00Z"},
        {"status": " captured"},
        {"status": "CAPTURED"},
        {"reference": "x" * 256},
        {"unknown": "1"},
    ],
    ids=["arabic-indic-date", "spaced-date", "spaced-status", "upper-case-status", "long-reference", "unknown"],
)
def test_payment_filters_take_values_exactly_as_sent(merchant_http, params):
    response = merchant_http.get("/api/v1/payments", params=params)

    _assert_problem(response, 400, "validation_error", next(iter(params)))


def test_a_nul_in_a_provider_name_is_a_404_problem(gunicorn_server):
    with gunicorn_server.client() as client:
        for path in ("/webhooks/providers/%00/", "/webhooks/providers/ci%00elo/", "/webhooks/providers/%C0%80/"):
            response = client.post(path, content=b"{}", headers={"Content-Type": "application/json"})
            assert response.status_code == 404, (path, response.text)
            assert response.headers["content-type"] == PROBLEM


def _signed(provider: str, body: bytes) -> dict:
    secret = LIVE_PROVIDER_SECRETS[f"{provider.upper()}_WEBHOOK_SECRET"]
    sandbox = SandboxSettings(credentials=Credentials(**{f"{provider}_webhook_secret": secret}))
    return signed_headers(sandbox, provider, body, time.time())


UNREADABLE_BODIES = {
    "nested-30000-deep": b"[" * 30_000 + b"]" * 30_000,
    "object-nested-10000-deep": b'{"a":' * 10_000 + b"1" + b"}" * 10_000,
    "nul-in-a-string": json.dumps({"PaymentId": "pay_\u0000", "ChangeType": 1}).encode(),
    "lone-surrogate": b'{"PaymentId": "\\ud800"}',
}


@pytest.mark.parametrize("provider", ["cielo", "rede", "getnet"])
@pytest.mark.parametrize("name", sorted(UNREADABLE_BODIES))
def test_a_signed_body_no_reader_can_take_is_refused_as_malformed(gunicorn_server, provider, name):
    body = UNREADABLE_BODIES[name]
    with gunicorn_server.client() as client:
        response = client.post(f"/webhooks/providers/{provider}/", content=body, headers=_signed(provider, body))

    _assert_problem(response, 400, "malformed")
