"""A wallet as a payment method, end to end through the API: authorization reserves, capture
moves the money to the merchant, cancel and expiry release it, refunds return it; the ledger
verifies after every scenario."""

import pytest
from django.db import connection

from ledger.verification import verify
from payments import tasks
from payments.models import Payment
from tests.payments.helpers import API, assert_problem, authorize, cancel, capture, create_payment, get, post, refund

pytestmark = pytest.mark.django_db(transaction=True)


def _wallet(client, *, funds: int = 10_000, currency: str = "BRL") -> str:
    response = post(client, "/wallets", {"currency": currency})
    assert response.status_code == 201, response.content
    wallet_id = response.json()["id"]
    if funds:
        income = post(client, f"/wallets/{wallet_id}/movements", {"type": "income", "amount": funds})
        assert income.status_code == 201, income.content
    return wallet_id


def _balances(client, wallet_id: str) -> tuple[int, int]:
    wallet = get(client, f"/wallets/{wallet_id}").json()
    return wallet["balance"], wallet["available_balance"]


def _pay_with(client, wallet_id: str, amount: int, **fields) -> dict:
    return create_payment(client, amount=amount, payment_method={"type": "wallet", "wallet": wallet_id}, **fields)


@pytest.fixture(autouse=True)
def _ledger_verifies():
    yield
    assert verify() == []


def test_authorization_reserves_and_capture_pays_the_merchant(api):
    wallet_id = _wallet(api, funds=10_000)
    payment = _pay_with(api, wallet_id, 3_000, capture_method="manual")
    assert payment["provider"] == "wallet"

    authorized = authorize(api, payment["id"]).json()
    assert (authorized["status"], authorized["amount_capturable"]) == ("authorized", 3_000)
    assert authorized["capture_before"]
    assert _balances(api, wallet_id) == (10_000, 7_000)

    captured = capture(api, payment["id"], 2_000).json()
    assert (captured["status"], captured["amount_captured"]) == ("captured", 2_000)
    # The uncaptured 1,000 goes back to the wallet.
    assert _balances(api, wallet_id) == (8_000, 8_000)


def test_automatic_capture_takes_the_money_at_once(api):
    wallet_id = _wallet(api, funds=5_000)
    payment = _pay_with(api, wallet_id, 5_000)

    assert authorize(api, payment["id"]).json()["status"] == "captured"
    assert _balances(api, wallet_id) == (0, 0)


def test_refunds_return_money_to_the_wallet(api):
    wallet_id = _wallet(api, funds=5_000)
    payment = _pay_with(api, wallet_id, 4_000)
    authorize(api, payment["id"])

    partial = refund(api, payment["id"], 1_500)
    assert (partial.status_code, partial.json()["status"]) == (201, "succeeded")
    assert _balances(api, wallet_id) == (2_500, 2_500)

    rest = refund(api, payment["id"])
    assert rest.json()["amount"] == 2_500
    assert get(api, f"/payments/{payment['id']}").json()["status"] == "refunded"
    assert _balances(api, wallet_id) == (5_000, 5_000)
    assert_problem(refund(api, payment["id"], 1), 409, "invalid_state_transition")


def test_insufficient_funds_fail_the_payment_and_leave_the_wallet_alone(api):
    wallet_id = _wallet(api, funds=1_000)
    payment = _pay_with(api, wallet_id, 1_001)

    failed = authorize(api, payment["id"]).json()
    assert (failed["status"], failed["failure_code"]) == ("failed", "insufficient_funds")
    assert _balances(api, wallet_id) == (1_000, 1_000)


def test_cancel_releases_the_reservation(api):
    wallet_id = _wallet(api, funds=2_000)
    payment = _pay_with(api, wallet_id, 2_000, capture_method="manual")
    authorize(api, payment["id"])
    assert _balances(api, wallet_id) == (2_000, 0)

    canceled = cancel(api, payment["id"]).json()
    assert (canceled["status"], canceled["cancellation_reason"]) == ("canceled", "requested_by_merchant")
    assert _balances(api, wallet_id) == (2_000, 2_000)


def test_expired_authorization_releases_the_reservation(api):
    wallet_id = _wallet(api, funds=2_000)
    payment = _pay_with(api, wallet_id, 1_200, capture_method="manual")
    authorize(api, payment["id"])
    with connection.cursor() as cursor:
        cursor.execute("UPDATE payments_payment SET capture_before = now() WHERE id = %s", [payment["id"]])

    assert tasks.cancel_expired_authorizations() == 1

    expired = get(api, f"/payments/{payment['id']}").json()
    assert (expired["status"], expired["cancellation_reason"]) == ("canceled", "capture_window_expired")
    assert _balances(api, wallet_id) == (2_000, 2_000)


def test_events_tell_the_wallet_payment_story(api):
    wallet_id = _wallet(api, funds=3_000)
    payment = _pay_with(api, wallet_id, 3_000)
    authorize(api, payment["id"])

    types = [e["type"] for e in get(api, f"/payments/{payment['id']}/events").json()["data"]]
    assert types == ["payment.created", "payment.authorization_requested", "payment.authorized", "payment.captured"]


def test_another_merchants_wallet_cannot_pay(api, other_api):
    foreign_wallet = _wallet(other_api, funds=5_000)

    response = post(
        api,
        "/payments",
        {"amount": 100, "currency": "BRL", "payment_method": {"type": "wallet", "wallet": foreign_wallet}},
    )

    assert_problem(response, 404, "resource_missing")
    assert _balances(other_api, foreign_wallet) == (5_000, 5_000)


@pytest.mark.parametrize(
    ("fields", "code"),
    [({"currency": "USD"}, "currency_mismatch"), ({"provider": "cielo"}, "validation_error")],
)
def test_wallet_payment_with_wrong_currency_or_a_provider_is_refused(api, merchant, fields, code):
    wallet_id = _wallet(api, funds=0)
    body = {"amount": 100, "currency": "BRL", "payment_method": {"type": "wallet", "wallet": wallet_id}, **fields}

    assert_problem(post(api, "/payments", body), 400, code)
    assert not Payment.objects.filter(merchant=merchant).exists()


def test_wallet_payments_are_listed_by_provider(api):
    wallet_id = _wallet(api, funds=1_000)
    payment = _pay_with(api, wallet_id, 100)

    listed = api.get(f"{API}/payments", {"provider": "wallet"}).json()["data"]
    assert [p["id"] for p in listed] == [payment["id"]]
