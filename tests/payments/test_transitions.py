"""Illegal transitions of the payment state machine: 409 invalid_state_transition, and nothing
changes (no provider call, no event, no refund). Rejected before any provider call, so rows in
each state are written directly."""

import pytest

from events.models import DomainEvent
from payments.models import ProviderOperation, Refund
from tests.factories import PaymentFactory
from tests.payments.helpers import assert_problem, get, post

pytestmark = pytest.mark.django_db


STATE_ROWS = {
    "created": {},
    "authorization_requested": {"status": "authorization_requested", "provider": "cielo"},
    "authorized": {"authorized": True},
    "captured": {"captured": True},
    "failed": {"status": "failed", "provider": "cielo", "failure_code": "card_declined"},
    "canceled": {"status": "canceled", "cancellation_reason": "requested_by_merchant"},
    "refunded": {"captured": True, "status": "refunded", "amount_refunded": 10_000},
    "charged_back": {"captured": True, "status": "charged_back"},
}
ILLEGAL = [
    ("created", "capture"),
    ("created", "refunds"),
    ("authorization_requested", "authorize"),
    ("authorization_requested", "capture"),
    ("authorization_requested", "cancel"),
    ("authorization_requested", "refunds"),
    ("authorized", "authorize"),
    ("authorized", "refunds"),
    ("captured", "authorize"),
    ("captured", "capture"),
    ("captured", "cancel"),
    ("failed", "authorize"),
    ("failed", "capture"),
    ("failed", "cancel"),
    ("failed", "refunds"),
    ("canceled", "authorize"),
    ("canceled", "capture"),
    ("canceled", "cancel"),
    ("canceled", "refunds"),
    ("refunded", "authorize"),
    ("refunded", "capture"),
    ("refunded", "cancel"),
    ("refunded", "refunds"),
    ("charged_back", "authorize"),
    ("charged_back", "capture"),
    ("charged_back", "cancel"),
    ("charged_back", "refunds"),
]


@pytest.mark.parametrize(("state", "action"), ILLEGAL, ids=[f"{s}-{a}" for s, a in ILLEGAL])
def test_illegal_transition_is_409_and_changes_nothing(api, merchant, state, action):
    payment = PaymentFactory(merchant=merchant, amount=10_000, **STATE_ROWS[state])
    before = get(api, f"/payments/{payment.id}").json()

    response = post(api, f"/payments/{payment.id}/{action}", {})

    assert_problem(response, 409, "invalid_state_transition")
    assert get(api, f"/payments/{payment.id}").json() == before
    assert not DomainEvent.objects.filter(aggregate_id=payment.id).exists()
    assert not ProviderOperation.objects.filter(payment=payment).exists()
    assert not Refund.objects.filter(payment=payment).exists()
