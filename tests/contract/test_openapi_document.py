"""The OpenAPI document's promises that schemathesis relies on, and the server fixes its run
found (inputs with a trailing newline got past `re.match(...$)`; DRF trimmed strings)."""

import pytest

from tests.payments.helpers import assert_problem, payment_body, post

pytestmark = pytest.mark.django_db


@pytest.fixture
def document(api):
    response = api.get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def test_every_error_is_declared_as_a_problem(document):
    for path, item in document["paths"].items():
        for method, operation in item.items():
            for status, response in operation["responses"].items():
                expected = "application/problem+json" if int(status) >= 400 else "application/json"
                assert list(response["content"]) == [expected], (method, path, status)
            statuses = set(operation["responses"])
            assert {"401", "429"} <= statuses, (method, path)
            if "{" in path:
                assert "404" in statuses, (method, path)
            if method == "post":
                assert {"400", "409", "413", "415", "422"} <= statuses, (method, path)


def test_inputs_are_as_strict_as_the_server(document):
    schemas = document["components"]["schemas"]
    assert schemas["PaymentCreateRequest"]["additionalProperties"] is False
    assert schemas["CaptureRequest"]["additionalProperties"] is False
    currency = schemas["PaymentCreateRequest"]["properties"]["currency"]
    assert currency["pattern"] == "^[A-Z]{3}$"
    assert "BRL" in schemas["CurrencyEnum"]["enum"] and "XXX" not in schemas["CurrencyEnum"]["enum"]
    create = document["paths"]["/api/v1/payments"]["post"]
    key = next(p for p in create["parameters"] if p["name"] == "Idempotency-Key")
    assert key["required"] and key["schema"]["maxLength"] == 255
    listing = document["paths"]["/api/v1/payments"]["get"]
    limit = next(p for p in listing["parameters"] if p["name"] == "limit")
    assert (limit["schema"]["minimum"], limit["schema"]["maximum"]) == (1, 100)


def test_links_lead_from_a_created_payment_to_its_operations(document):
    links = document["paths"]["/api/v1/payments"]["post"]["responses"]["201"]["links"]
    assert links["CapturePayment"] == {
        "operationId": "payments_capture",
        "parameters": {"payment_id": "$response.body#/id"},
    }


@pytest.mark.parametrize(
    "payment_method",
    [{"type": "card", "token": "tok_approve\n"}, {"type": "wallet", "wallet": "wal_abc\n"}],
)
def test_an_id_with_a_trailing_newline_is_refused(api, payment_method):
    response = post(api, "/payments", payment_body(payment_method=payment_method))
    assert_problem(response, 400, "validation_error")


def test_a_metadata_key_with_a_trailing_newline_is_refused(api):
    response = post(api, "/payments", payment_body(metadata={"order\n": "1"}))
    assert_problem(response, 400, "validation_error")


def test_an_event_type_with_a_trailing_newline_is_refused():
    from core.errors import ValidationFailed
    from outbox.services import event_types_normalize

    assert event_types_normalize(["payment.captured"]) == ["payment.captured"]
    with pytest.raises(ValidationFailed):
        event_types_normalize(["payment.captured\n"])


def test_text_is_kept_as_sent(api):
    response = post(api, "/payments", payment_body(reference="  order-1 "))
    assert response.status_code == 201, response.json()
    assert response.json()["reference"] == "  order-1 "
