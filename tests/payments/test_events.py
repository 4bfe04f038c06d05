"""GET /payments/{id}/events, and the event log as the payment's history: folding a payment's
events gives back the amounts and status stored on its row, whatever operations were asked for."""

import hypothesis
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.verification import verify
from payments.models import Payment
from tests.payments.helpers import (
    authorize,
    cancel,
    capture,
    captured_payment,
    create_payment,
    get,
    refund,
)

pytestmark = pytest.mark.django_db(transaction=True)

EVENT_FIELDS = {"id", "type", "sequence", "data", "occurred_at"}


def _events(api, payment_id: str) -> list[dict]:
    response = get(api, f"/payments/{payment_id}/events", {"limit": "100"})
    assert response.status_code == 200, response.content
    assert response.json()["has_more"] is False
    return response.json()["data"]


def test_events_are_listed_oldest_first_with_sequences_from_one(api):
    payment = captured_payment(api, amount=10_000)
    assert refund(api, payment["id"], 4_000).status_code == 201
    assert refund(api, payment["id"]).status_code == 201

    events = _events(api, payment["id"])

    assert [event["type"] for event in events] == [
        "payment.created",
        "payment.authorization_requested",
        "payment.authorized",
        "payment.captured",
        "refund.created",
        "refund.succeeded",
        "refund.created",
        "refund.succeeded",
        "payment.refunded",
    ]
    assert [event["sequence"] for event in events] == list(range(1, len(events) + 1))
    assert all(set(event) == EVENT_FIELDS for event in events)
    assert all(event["id"].startswith("evt_") for event in events)
    assert len({event["id"] for event in events}) == len(events)
    times = [event["occurred_at"] for event in events]
    assert times == sorted(times) and all(time.endswith("Z") for time in times)


def test_each_event_carries_the_object_as_it_was(api):
    payment = captured_payment(api, amount=10_000)
    refunded = refund(api, payment["id"], 2_500).json()

    events = {event["type"]: event["data"]["object"] for event in _events(api, payment["id"])}

    assert events["payment.created"]["status"] == "created"
    assert events["payment.authorized"]["amount_capturable"] == 10_000
    assert events["payment.captured"] == payment  # what the authorize call answered
    assert events["refund.succeeded"]["id"] == refunded["id"]
    assert events["refund.succeeded"]["status"] == "succeeded"
    assert events["refund.succeeded"]["amount"] == 2_500


def test_events_are_paginated_by_cursor(api):
    payment = captured_payment(api)
    everything = _events(api, payment["id"])

    first = get(api, f"/payments/{payment['id']}/events", {"limit": "3"}).json()
    rest = get(api, f"/payments/{payment['id']}/events", {"starting_after": first["next_cursor"]}).json()

    assert first["has_more"] is True
    assert first["next_cursor"] == first["data"][-1]["id"]
    assert first["data"] + rest["data"] == everything
    assert (rest["has_more"], rest["next_cursor"]) == (False, None)


# --- folding events ------------------------------------------------------------------------------
_STATUS_OF = {
    "payment.created": "created",
    "payment.authorization_requested": "authorization_requested",
    "payment.authorized": "authorized",
    "payment.failed": "failed",
    "payment.captured": "captured",
    "payment.canceled": "canceled",
    "payment.refunded": "refunded",
}


def fold(events: list[dict]) -> dict:
    state: dict = {}
    for event in events:
        kind, obj = event["type"], event["data"]["object"]
        if kind == "payment.created":
            state = {"status": "created", "amount": obj["amount"], "capturable": 0, "captured": 0, "refunded": 0}
        elif kind == "payment.authorized":
            state["capturable"] = state["amount"]
        elif kind == "payment.captured":
            state["captured"] = obj["amount_captured"]
            state["capturable"] = 0
        elif kind == "payment.canceled":
            state["capturable"] = 0
        elif kind == "refund.succeeded":
            state["refunded"] += obj["amount"]
        elif kind not in _STATUS_OF and kind not in ("refund.created", "refund.failed"):
            raise AssertionError(f"unexpected event type {kind}")
        if kind in _STATUS_OF:
            state["status"] = _STATUS_OF[kind]
    return state


# An operation and, for capture and refund, its amount in per mille of the payment's amount
# (None: the API's default), up to 110 % so that some ask for too much.
_operation = st.tuples(
    st.sampled_from(["authorize", "authorize", "capture", "refund", "refund", "refund", "cancel"]),
    st.one_of(st.none(), st.integers(min_value=1, max_value=1_100)),
)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amount=st.integers(min_value=1, max_value=10_000),
    capture_method=st.sampled_from(["automatic", "manual"]),
    token=st.sampled_from(["tok_approve", "tok_approve", "tok_approve", "tok_decline"]),
    # most sequences start with an authorization, so that they reach capture and refunds
    operations=st.tuples(st.sampled_from([[("authorize", None)]] * 3 + [[]]), st.lists(_operation, max_size=7)).map(
        lambda parts: parts[0] + parts[1]
    ),
)
def test_folding_the_events_gives_the_stored_payment(api, amount, capture_method, token, operations):
    payment = create_payment(
        api, amount=amount, capture_method=capture_method, payment_method={"type": "card", "token": token}
    )
    calls = {"authorize": authorize, "capture": capture, "cancel": cancel, "refund": refund}

    for name, per_mille in operations:
        operation_amount = None if per_mille is None else max(1, amount * per_mille // 1000)
        kwargs = {} if name in ("authorize", "cancel") else {"amount": operation_amount}
        response = calls[name](api, payment["id"], **kwargs)
        # Legal or not, an operation is answered; it never crashes the server.
        assert response.status_code in (200, 201, 400, 409), (name, response.status_code, response.content)

    events = _events(api, payment["id"])
    stored = Payment.objects.get(pk=payment["id"])
    hypothesis.event(f"ended {stored.status}")  # shown by --hypothesis-show-statistics
    hypothesis.event(f"{stored.operations.exclude(status='succeeded').count()} unsucceeded operations")
    hypothesis.event(f"{sum(e['type'] == 'refund.succeeded' for e in events)} refunds")

    assert [event["sequence"] for event in events] == list(range(1, len(events) + 1))
    assert fold(events) == {
        "status": stored.status,
        "amount": stored.amount,
        "capturable": stored.amount_capturable,
        "captured": stored.amount_captured,
        "refunded": stored.amount_refunded,
    }
    assert stored.amount_refunded <= stored.amount_captured <= stored.amount
    assert get(api, f"/payments/{payment['id']}").json()["status"] == stored.status
    # The books hold after any sequence: every entry balances, balances equal their postings,
    # every currency sums to zero, and the payment's amounts equal what the ledger holds for it.
    assert verify() == []
