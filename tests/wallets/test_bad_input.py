"""Whatever a client sends, a mistake answers a 400 application/problem+json naming the field, and
nothing is created or moved."""

import pytest

from events.models import DomainEvent
from ledger.models import JournalEntry
from tests.payments.helpers import assert_problem, error_fields, post
from tests.wallets.factories import WalletFactory
from wallets.models import Movement, Wallet

pytestmark = pytest.mark.django_db

LUHN_VALID = "4242424242424242"


def _movement(**overrides) -> dict:
    return {"type": "income", "amount": 1_000, **overrides}


def _without(name: str) -> dict:
    body = _movement()
    del body[name]
    return body


# (body, field named in errors[])
WALLET_CASES = {
    "currency-missing": ({}, "currency"),
    "currency-lower-case": ({"currency": "brl"}, "currency"),
    "currency-unknown": ({"currency": "XYZ"}, "currency"),
    "currency-too-long": ({"currency": "BRLL"}, "currency"),
    "currency-number": ({"currency": 986}, "currency"),
    "currency-null": ({"currency": None}, "currency"),
    "owner-reference-number": ({"currency": "BRL", "owner_reference": 42}, "owner_reference"),
    "owner-reference-too-long": ({"currency": "BRL", "owner_reference": "x" * 256}, "owner_reference"),
    "unknown-field": ({"currency": "BRL", "balance": 1_000}, "balance"),
}

MOVEMENT_CASES = {
    "amount-missing": (_without("amount"), "amount"),
    "amount-string": (_movement(amount="100"), "amount"),
    "amount-fraction": (_movement(amount=10.5), "amount"),
    "amount-float-integral": (_movement(amount=10.0), "amount"),
    "amount-true": (_movement(amount=True), "amount"),
    "amount-null": (_movement(amount=None), "amount"),
    "amount-zero": (_movement(amount=0), "amount"),
    "amount-negative": (_movement(amount=-100), "amount"),
    "amount-huge": (_movement(amount=100_000_000_000), "amount"),
    "type-missing": (_without("type"), "type"),
    "type-unknown": (_movement(type="transfer"), "type"),
    "type-upper-case": (_movement(type="INCOME"), "type"),
    "type-number": (_movement(type=1), "type"),
    "reference-too-long": (_movement(reference="x" * 256), "reference"),
    "description-too-long": (_movement(description="x" * 1001), "description"),
    "description-object": (_movement(description={"text": "x"}), "description"),
    "currency-not-accepted": (_movement(currency="BRL"), "currency"),
    "reverts-not-accepted": (_movement(reverts="mov_1"), "reverts"),
}


@pytest.mark.parametrize("body, field", WALLET_CASES.values(), ids=WALLET_CASES.keys())
def test_bad_wallets_are_refused(api, body, field):
    problem = assert_problem(post(api, "/wallets", body), 400, "validation_error")

    assert field in error_fields(problem)
    assert not Wallet.objects.exists()


@pytest.mark.parametrize("body, field", MOVEMENT_CASES.values(), ids=MOVEMENT_CASES.keys())
def test_bad_movements_are_refused(api, merchant, body, field):
    wallet = WalletFactory(merchant=merchant)

    problem = assert_problem(post(api, f"/wallets/{wallet.id}/movements", body), 400, "validation_error")

    assert field in error_fields(problem)
    assert not Movement.objects.exists()
    assert not JournalEntry.objects.exists()
    assert not DomainEvent.objects.exists()


@pytest.mark.parametrize(
    "raw", [b"{", b"[]", b'"income"', b"null", b"\xff\xfe"], ids=["truncated", "array", "string", "null", "not-utf8"]
)
def test_a_body_that_is_not_a_json_object_is_refused(api, merchant, raw):
    wallet = WalletFactory(merchant=merchant)

    assert_problem(post(api, f"/wallets/{wallet.id}/movements", raw=raw), 400)

    assert not Movement.objects.exists()


def test_a_card_number_in_a_description_is_refused_and_never_stored(api, merchant):
    wallet = WalletFactory(merchant=merchant)

    response = post(api, f"/wallets/{wallet.id}/movements", _movement(description=f"card {LUHN_VALID}"))

    problem = assert_problem(response, 400, "card_number_rejected")
    assert error_fields(problem) == {"description"}
    assert not Movement.objects.exists()
