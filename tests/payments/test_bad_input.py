"""Whatever a client sends, a mistake answers a 4xx application/problem+json with a `code`, and
nothing is created or changed."""

import json

import pytest
from django.utils import timezone

from events.models import DomainEvent
from merchants.services import api_key_issue
from payments.models import Payment, ProviderOperation, Refund
from tests.factories import MerchantFactory, PaymentFactory, RefundFactory
from tests.payments.helpers import API, assert_problem, client_for, error_fields, get, payment_body, post

pytestmark = pytest.mark.django_db

LUHN_VALID = "4242424242424242"


def _with(**overrides) -> dict:
    return payment_body(**overrides)


def _without(name: str) -> dict:
    body = payment_body()
    del body[name]
    return body


def _card(**fields) -> dict:
    return payment_body(payment_method={"type": "card", "token": "tok_approve", **fields})


def _nothing_written(merchant):
    assert not Payment.objects.filter(merchant=merchant).exists()
    assert not Refund.objects.filter(merchant=merchant).exists()
    assert not ProviderOperation.objects.filter(payment__merchant=merchant).exists()
    assert not DomainEvent.objects.filter(merchant=merchant).exists()


# (body, expected code, field named in errors[] or None)
CREATE_CASES = {
    # wrong types for amount
    "amount-string": (_with(amount="100"), "validation_error", "amount"),
    "amount-fraction": (_with(amount=10.5), "validation_error", "amount"),
    "amount-float-integral": (_with(amount=10.0), "validation_error", "amount"),
    "amount-true": (_with(amount=True), "validation_error", "amount"),
    "amount-null": (_with(amount=None), "validation_error", "amount"),
    "amount-list": (_with(amount=[100]), "validation_error", "amount"),
    "amount-object": (_with(amount={"value": 100}), "validation_error", "amount"),
    # out of range
    "amount-zero": (_with(amount=0), "validation_error", "amount"),
    "amount-negative": (_with(amount=-100), "validation_error", "amount"),
    "amount-huge": (_with(amount=100_000_000_000), "validation_error", "amount"),
    # currency
    "currency-lower-case": (_with(currency="brl"), "validation_error", "currency"),
    "currency-unknown": (_with(currency="XYZ"), "validation_error", "currency"),
    "currency-too-long": (_with(currency="BRLL"), "validation_error", "currency"),
    "currency-empty": (_with(currency=""), "validation_error", "currency"),
    "currency-number": (_with(currency=986), "validation_error", "currency"),
    "currency-null": (_with(currency=None), "validation_error", "currency"),
    # missing fields
    "missing-amount": (_without("amount"), "validation_error", "amount"),
    "missing-currency": (_without("currency"), "validation_error", "currency"),
    "missing-payment-method": (_without("payment_method"), "validation_error", "payment_method"),
    "payment-method-without-type": (
        _with(payment_method={"token": "tok_approve"}),
        "validation_error",
        "payment_method.type",
    ),
    "card-without-token": (_with(payment_method={"type": "card"}), "validation_error", "payment_method.token"),
    # wrong shapes of payment_method
    "payment-method-string": (_with(payment_method="tok_approve"), "validation_error", "payment_method"),
    "payment-method-unknown-type": (
        _with(payment_method={"type": "bitcoin", "token": "tok_approve"}),
        "validation_error",
        "payment_method.type",
    ),
    "token-without-prefix": (
        _with(payment_method={"type": "card", "token": "approve"}),
        "validation_error",
        "payment_method.token",
    ),
    "token-number": (_with(payment_method={"type": "card", "token": 123}), "validation_error", "payment_method.token"),
    "card-with-wallet": (_card(wallet="wal_123"), "validation_error", "payment_method.wallet"),
    # unknown fields, at the top level and nested
    "unknown-top-level-field": (_with(customer="cus_1"), "validation_error", "customer"),
    "misspelt-field": (_with(captur_method="manual"), "validation_error", "captur_method"),
    "unknown-nested-field": (_card(cvv="123"), "validation_error", "payment_method.cvv"),
    # choices
    "capture-method-unknown": (_with(capture_method="later"), "validation_error", "capture_method"),
    "provider-unknown": (_with(provider="paypal"), "validation_error", "provider"),
    "provider-upper-case": (_with(provider="CIELO"), "validation_error", "provider"),
    # strings
    "description-too-long": (_with(description="x" * 1001), "validation_error", "description"),
    "description-number": (_with(description=5), "validation_error", "description"),
    "reference-too-long": (_with(reference="r" * 256), "validation_error", "reference"),
    # metadata
    "metadata-list": (_with(metadata=["a"]), "validation_error", "metadata"),
    "metadata-string": (_with(metadata="a=b"), "validation_error", "metadata"),
    "metadata-number-value": (_with(metadata={"order": 1}), "validation_error", "metadata"),
    "metadata-null-value": (_with(metadata={"order": None}), "validation_error", "metadata"),
    "metadata-nested-value": (_with(metadata={"order": {"id": "1"}}), "validation_error", "metadata"),
    "metadata-too-many-keys": (
        _with(metadata={f"k{i}": "v" for i in range(21)}),
        "validation_error",
        "metadata",
    ),
    "metadata-key-too-long": (_with(metadata={"k" * 41: "v"}), "validation_error", "metadata"),
    "metadata-key-with-space": (_with(metadata={"order id": "v"}), "validation_error", "metadata"),
    "metadata-value-too-long": (_with(metadata={"note": "v" * 501}), "validation_error", "metadata"),
    # card numbers, wherever they are
    "card-number-as-token": (
        _with(payment_method={"type": "card", "token": LUHN_VALID}),
        "card_number_rejected",
        "payment_method.token",
    ),
    "card-number-in-token": (
        _with(payment_method={"type": "card", "token": f"tok_{LUHN_VALID}"}),
        "card_number_rejected",
        "payment_method.token",
    ),
    "card-number-in-description": (
        _with(description="paid with 4111 1111 1111 1111, thanks"),
        "card_number_rejected",
        "description",
    ),
    "card-number-in-metadata": (
        _with(metadata={"note": "5555-5555-5555-4444"}),
        "card_number_rejected",
        "metadata.note",
    ),
    "card-number-as-metadata-key": (_with(metadata={LUHN_VALID: "x"}), "card_number_rejected", "metadata"),
    "card-number-in-reference": (_with(reference="4000056655665556"), "card_number_rejected", "reference"),
    "card-number-in-unknown-field": (_with(pan=LUHN_VALID), "card_number_rejected", "pan"),
}


@pytest.mark.parametrize(("body", "code", "field"), CREATE_CASES.values(), ids=CREATE_CASES.keys())
def test_invalid_payment_is_refused(api, merchant, body, code, field):
    response = post(api, "/payments", body)

    problem = assert_problem(response, 400, code)
    if field is not None:
        assert field in error_fields(problem), problem
    _nothing_written(merchant)


def test_card_number_is_not_echoed_back(api):
    response = post(api, "/payments", _with(metadata={"note": LUHN_VALID}))

    assert_problem(response, 400, "card_number_rejected")
    assert LUHN_VALID not in response.content.decode()


def test_luhn_invalid_digits_are_not_mistaken_for_a_card(api):
    response = post(api, "/payments", _with(description="order 4242424242424241"))

    assert response.status_code == 201, response.content


def test_largest_amount_is_accepted(api):
    response = post(api, "/payments", _with(amount=99_999_999_999))

    assert response.status_code == 201, response.content
    assert response.json()["amount"] == 99_999_999_999


RAW_CASES = {
    "truncated-json": (b'{"amount": 100,', "malformed_json"),
    "not-json": (b"amount=100&currency=BRL", "malformed_json"),
    "single-quotes": (b"{'amount': 100}", "malformed_json"),
    "trailing-garbage": (b'{"amount": 100} x', "malformed_json"),
    "invalid-utf8": (b'{"description": "\xff\xfe"}', "malformed_json"),
    "array": (b"[]", "validation_error"),
    "array-of-payment": (json.dumps([payment_body()]).encode(), "validation_error"),
    "string": (b'"a payment"', "validation_error"),
    "number": (b"42", "validation_error"),
    "null": (b"null", "validation_error"),
    "true": (b"true", "validation_error"),
    "empty": (b"", "validation_error"),
}


@pytest.mark.parametrize(("raw", "code"), RAW_CASES.values(), ids=RAW_CASES.keys())
def test_body_that_is_not_a_json_object_is_refused(api, merchant, raw, code):
    response = post(api, "/payments", raw=raw)

    assert_problem(response, 400, code)
    _nothing_written(merchant)


def test_body_that_is_not_json_content_type_is_refused(api, merchant):
    response = api.generic(
        "POST", f"{API}/payments", json.dumps(payment_body()), content_type="text/plain", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert_problem(response, 415)
    _nothing_written(merchant)


@pytest.mark.parametrize("path", ["/payments", "/payments/pay_X/refunds"])
def test_body_over_one_mebibyte_is_refused(api, merchant, path):
    raw = json.dumps(payment_body(description="x" * (1024 * 1024))).encode()

    response = post(api, path, raw=raw)

    assert_problem(response, 413)
    _nothing_written(merchant)


# --- actions on an existing payment ----------------------------------------------------------
CAPTURE_CASES = {
    "amount-string": ({"amount": "100"}, 400, "validation_error"),
    "amount-zero": ({"amount": 0}, 400, "validation_error"),
    "amount-negative": ({"amount": -5}, 400, "validation_error"),
    "amount-fraction": ({"amount": 10.5}, 400, "validation_error"),
    "amount-above-authorized": ({"amount": 10_001}, 400, "amount_exceeds_capturable"),
    "unknown-field": ({"amount": 100, "final": True}, 400, "validation_error"),
}


@pytest.mark.parametrize(("body", "status", "code"), CAPTURE_CASES.values(), ids=CAPTURE_CASES.keys())
def test_invalid_capture_is_refused_and_changes_nothing(api, merchant, body, status, code):
    payment = PaymentFactory(merchant=merchant, authorized=True, amount=10_000)

    response = post(api, f"/payments/{payment.id}/capture", body)

    assert_problem(response, status, code)
    payment.refresh_from_db()
    assert (payment.status, payment.amount_capturable, payment.amount_captured) == ("authorized", 10_000, 0)
    _no_operation_and_no_event(payment)


REFUND_CASES = {
    "amount-string": ({"amount": "1"}, 400, "validation_error"),
    "amount-zero": ({"amount": 0}, 400, "validation_error"),
    "amount-above-captured": ({"amount": 10_001}, 409, "amount_exceeds_refundable"),
    "reason-number": ({"reason": 5}, 400, "validation_error"),
    "reason-too-long": ({"reason": "r" * 501}, 400, "validation_error"),
    "card-number-in-reason": ({"reason": f"card {LUHN_VALID}"}, 400, "card_number_rejected"),
    "unknown-field": ({"amount": 100, "currency": "BRL"}, 400, "validation_error"),
}


@pytest.mark.parametrize(("body", "status", "code"), REFUND_CASES.values(), ids=REFUND_CASES.keys())
def test_invalid_refund_is_refused_and_changes_nothing(api, merchant, body, status, code):
    payment = PaymentFactory(merchant=merchant, captured=True, amount=10_000)

    response = post(api, f"/payments/{payment.id}/refunds", body)

    assert_problem(response, status, code)
    payment.refresh_from_db()
    assert (payment.status, payment.amount_refunded, payment.amount_refund_pending) == ("captured", 0, 0)
    assert not Refund.objects.filter(payment=payment).exists()
    _no_operation_and_no_event(payment)


@pytest.mark.parametrize("action", ["authorize", "cancel"])
def test_parameterless_actions_refuse_any_field(api, merchant, action):
    payment = PaymentFactory(merchant=merchant)

    response = post(api, f"/payments/{payment.id}/{action}", {"reason": "duplicate"})

    problem = assert_problem(response, 400, "validation_error")
    assert "reason" in error_fields(problem)
    payment.refresh_from_db()
    assert payment.status == "created"
    _no_operation_and_no_event(payment)


def _no_operation_and_no_event(payment):
    assert not ProviderOperation.objects.filter(payment=payment).exists()
    assert not DomainEvent.objects.filter(aggregate_id=payment.id).exists()


# --- other merchants' objects and unknown ids -------------------------------------------------
@pytest.fixture
def foreign_payment(other_merchant):
    return PaymentFactory(merchant=other_merchant, captured=True)


@pytest.mark.parametrize("suffix", ["", "/events"])
def test_another_merchants_payment_is_404_to_read(api, foreign_payment, suffix):
    assert_problem(get(api, f"/payments/{foreign_payment.id}{suffix}"), 404, "resource_missing")


@pytest.mark.parametrize(
    ("action", "body"),
    [("authorize", {}), ("capture", {}), ("cancel", {}), ("refunds", {"amount": 100})],
)
def test_another_merchants_payment_is_404_to_act_on(api, foreign_payment, action, body):
    response = post(api, f"/payments/{foreign_payment.id}/{action}", body)

    assert_problem(response, 404, "resource_missing")
    foreign_payment.refresh_from_db()
    assert (foreign_payment.status, foreign_payment.amount_refunded) == ("captured", 0)
    assert not Refund.objects.filter(payment=foreign_payment).exists()
    assert not ProviderOperation.objects.filter(payment=foreign_payment).exists()


def test_another_merchants_refund_is_404(api, other_merchant):
    refund = RefundFactory(payment__merchant=other_merchant)

    assert_problem(get(api, f"/refunds/{refund.id}"), 404, "resource_missing")


def test_another_merchants_payments_are_not_listed(api, merchant, other_merchant):
    mine = PaymentFactory(merchant=merchant)
    PaymentFactory(merchant=other_merchant)

    response = get(api, "/payments")

    assert [row["id"] for row in response.json()["data"]] == [mine.id]


@pytest.mark.parametrize("payment_id", ["pay_01JDZZZZZZZZZZZZZZZZZZZZZZ", "nonsense", "re_123"])
def test_unknown_payment_id_is_404(api, payment_id):
    assert_problem(get(api, f"/payments/{payment_id}"), 404, "resource_missing")
    assert_problem(get(api, f"/payments/{payment_id}/events"), 404, "resource_missing")
    assert_problem(post(api, f"/payments/{payment_id}/capture"), 404, "resource_missing")
    assert_problem(post(api, f"/payments/{payment_id}/refunds"), 404, "resource_missing")


def test_unknown_refund_id_is_404(api):
    assert_problem(get(api, "/refunds/re_01JDZZZZZZZZZZZZZZZZZZZZZZ"), 404, "resource_missing")


# --- list parameters ----------------------------------------------------------------------------
@pytest.mark.parametrize(
    "params",
    [
        {"limit": "0"},
        {"limit": "101"},
        {"limit": "-1"},
        {"limit": "1.5"},
        {"limit": "ten"},
        {"limit": ""},
        {"starting_after": "re_01JD000000000000000000000"},
        {"starting_after": "pay_" + "x" * 80},
        {"status": "approved"},
        {"provider": "paypal"},
        {"created_gte": "yesterday"},
        {"created_lt": "2025-13-01T00:00:00Z"},
        {"sort": "amount"},
    ],
    ids=lambda params: "&".join(f"{k}={v[:12]}" for k, v in params.items()),
)
def test_bad_list_parameters_are_refused(api, merchant, params):
    PaymentFactory(merchant=merchant)

    problem = assert_problem(get(api, "/payments", params), 400)

    assert set(params) & error_fields(problem), problem


@pytest.mark.parametrize("params", [{"limit": "0"}, {"limit": "x"}, {"starting_after": "evt_unknown"}])
def test_bad_event_list_parameters_are_refused(api, merchant, params):
    payment = PaymentFactory(merchant=merchant)

    problem = assert_problem(get(api, f"/payments/{payment.id}/events", params), 400)

    assert set(params) & error_fields(problem), problem


# --- authentication -------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "authorization",
    [None, "Bearer sk_wrong", "Bearer ", "Basic dXNlcjpwYXNz", "sk_no_scheme", "Bearer sk_a sk_b"],
    ids=["missing", "wrong-key", "empty-key", "basic", "no-scheme", "two-keys"],
)
def test_requests_without_a_valid_key_are_401(client, merchant, authorization):
    PaymentFactory(merchant=merchant)
    headers = {"HTTP_AUTHORIZATION": authorization} if authorization else {}

    listed = client.get(f"{API}/payments", **headers)
    created = client.post(
        f"{API}/payments",
        json.dumps(payment_body()),
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-1",
        **headers,
    )

    assert_problem(listed, 401)
    assert_problem(created, 401)
    assert "Bearer" in listed["WWW-Authenticate"]
    assert Payment.objects.filter(merchant=merchant).count() == 1


def test_revoked_key_is_401(api, merchant):
    from merchants.services import api_key_revoke_all

    api_key_revoke_all(merchant=merchant)

    assert_problem(get(api, "/payments"), 401, "invalid_api_key")


def test_key_of_a_deactivated_merchant_is_401(db):
    merchant = MerchantFactory(is_active=False)
    client = client_for(api_key_issue(merchant=merchant))

    assert_problem(get(client, "/payments"), 401, "invalid_api_key")


# --- URLs and methods ----------------------------------------------------------------------------
@pytest.mark.parametrize("path", [f"{API}/", f"{API}/nope", f"{API}/payments/pay_1/explode", f"{API}/charges"])
def test_unknown_url_under_the_api_is_a_404_problem(api, path):
    assert_problem(api.get(path), 404)
    assert_problem(api.post(path, {}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"), 404)


@pytest.mark.parametrize(
    ("method", "path"), [("delete", "/payments/pay_1"), ("put", "/payments"), ("get", "/payments/pay_1/capture")]
)
def test_wrong_method_is_a_405_problem(api, method, path):
    assert_problem(getattr(api, method)(API + path), 405, "method_not_allowed")


def test_timestamps_in_answers_are_rfc3339_utc(api, merchant):
    payment = PaymentFactory(merchant=merchant, authorized=True, capture_before=timezone.now())

    body = get(api, f"/payments/{payment.id}").json()

    for field in ("created_at", "updated_at", "capture_before"):
        assert body[field].endswith("Z"), body[field]


def _raw_with(extra_member: str) -> str:
    """A valid payment body plus one member written as raw JSON text (json.dumps cannot write a
    lone surrogate escape)."""
    return json.dumps(payment_body())[:-1] + ", " + extra_member + "}"


# Inputs that PostgreSQL or Python itself cannot take: refused as 400 by the parser and the URL
# router, never a 500 from deep inside.
HOSTILE_BODIES = {
    "deeply-nested-arrays": "[" * 100_000 + "]" * 100_000,
    "nested-past-the-limit": json.dumps(
        payment_body(metadata={"a": "b"}) | {"x": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}
    ),
    "nul-in-metadata": json.dumps(payment_body(metadata={"note": "a\u0000b"})),
    "lone-surrogate-in-metadata": _raw_with('"metadata": {"note": "\\ud800"}'),
    "lone-surrogate-in-a-key": _raw_with('"\\udfff": 1'),
    "nul-in-description": json.dumps(payment_body(description="x\u0000")),
}


@pytest.mark.parametrize("raw", HOSTILE_BODIES.values(), ids=HOSTILE_BODIES.keys())
def test_bodies_the_database_could_not_store_are_400(api, merchant, raw):
    response = post(api, "/payments", raw=raw)

    assert_problem(response, 400, "malformed_json")
    _nothing_written(merchant)


@pytest.mark.parametrize(
    "path",
    [
        "/payments/pay_%00",
        "/payments/pay_%00/events",
        "/refunds/re_%00",
        "/wallets/wal_%00",
        "/payments/pay_%20x",
        "/payments/pay_" + "x" * 300,
    ],
)
def test_ids_with_characters_no_id_has_are_404(api, path):
    response = get(api, path)

    assert response.status_code == 404
    assert response["Content-Type"] == "application/problem+json"


@pytest.mark.parametrize("action", ["capture", "cancel", "refunds", "authorize"])
def test_acting_on_an_id_with_a_nul_is_404(api, merchant, action):
    response = post(api, f"/payments/pay_%00/{action}", {})

    assert response.status_code == 404
    _nothing_written(merchant)


@pytest.mark.parametrize("cursor", ["pay_%00", "pay_a-b", "evt_x"])
def test_a_cursor_with_foreign_characters_is_400(api, cursor):
    response = api.get(f"{API}/payments?starting_after={cursor}")

    assert_problem(response, 400, "validation_error")
