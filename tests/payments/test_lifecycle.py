"""The payment lifecycle through the API, against the provider sandbox (over HTTP)."""

from datetime import datetime, timedelta

import pytest
from django.db import connection

from events.models import DomainEvent
from payments import services, tasks
from payments.models import OperationStatus, Payment, ProviderOperation, Refund
from providers.port import Outcome, ProviderResult
from providers.registry import reset_providers
from tests.payments.helpers import (
    assert_problem,
    authorize,
    authorized_payment,
    cancel,
    capture,
    captured_payment,
    create_payment,
    get,
    post,
    refund,
)

pytestmark = pytest.mark.django_db(transaction=True)

PROVIDERS = ["cielo", "rede", "getnet"]
OPEN_STATUSES = (OperationStatus.PENDING, OperationStatus.UNKNOWN)


def _event_types(payment_id: str) -> list[str]:
    return list(DomainEvent.objects.filter(aggregate_id=payment_id).order_by("sequence").values_list("type", flat=True))


def _operations(payment_id: str, kind: str | None = None):
    operations = ProviderOperation.objects.filter(payment_id=payment_id)
    return operations.filter(kind=kind) if kind else operations


def _make_due(payment_id: str) -> None:
    """Status polling runs on a schedule; instead of waiting for it, make the checks due now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE payments_provideroperation SET next_check_at = now() - interval '1 second' "
            "WHERE payment_id = %s AND status IN ('pending', 'unknown')",
            [payment_id],
        )


def _parse(timestamp: str) -> datetime:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00"))


# --- create -----------------------------------------------------------------------------------------
def test_create_answers_a_new_payment(api):
    response_body = create_payment(
        api, amount=1_234, reference="order-9", description="Two books", metadata={"order_id": "9"}
    )

    assert response_body["id"].startswith("pay_")
    assert response_body["object"] == "payment"
    assert response_body["status"] == "created"
    assert (response_body["amount"], response_body["currency"]) == (1_234, "BRL")
    assert (
        response_body["amount_capturable"],
        response_body["amount_captured"],
        response_body["amount_refunded"],
    ) == (0, 0, 0)
    assert response_body["capture_method"] == "automatic"
    assert response_body["payment_method"] == {"type": "card", "token": "tok_approve"}
    assert (response_body["reference"], response_body["description"]) == ("order-9", "Two books")
    assert response_body["metadata"] == {"order_id": "9"}
    assert get(api, f"/payments/{response_body['id']}").json() == response_body
    assert _event_types(response_body["id"]) == ["payment.created"]
    assert not _operations(response_body["id"]).exists()


# --- authorization outcomes ------------------------------------------------------------------------
def test_approved_with_automatic_capture_is_captured_at_once(api):
    payment = create_payment(api, amount=10_000)

    response = authorize(api, payment["id"])

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "captured"
    assert (body["amount_captured"], body["amount_capturable"], body["amount_refunded"]) == (10_000, 0, 0)
    assert body["provider"] in PROVIDERS and body["provider_reference"]
    assert _event_types(payment["id"]) == [
        "payment.created",
        "payment.authorization_requested",
        "payment.authorized",
        "payment.captured",
    ]
    assert sorted(_operations(payment["id"]).values_list("kind", "status")) == [
        ("authorize", "succeeded"),
        ("capture", "succeeded"),
    ]


def test_approved_with_manual_capture_waits_for_the_capture(api):
    payment = create_payment(api, amount=10_000, capture_method="manual")

    body = authorize(api, payment["id"]).json()

    assert body["status"] == "authorized"
    assert (body["amount_capturable"], body["amount_captured"]) == (10_000, 0)
    window = _parse(body["capture_before"]) - _parse(body["updated_at"])
    assert timedelta(days=1) < window <= timedelta(days=31)
    assert _event_types(payment["id"])[-1] == "payment.authorized"


def test_manual_capture_of_part_of_the_amount(api):
    payment = authorized_payment(api, amount=10_000)

    response = capture(api, payment["id"], 6_000)

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["amount_captured"], body["amount_capturable"]) == ("captured", 6_000, 0)
    assert_problem(capture(api, payment["id"], 1_000), 409, "invalid_state_transition")  # one capture only
    assert Payment.objects.get(pk=payment["id"]).amount_captured == 6_000


def test_manual_capture_without_amount_captures_everything(api):
    payment = authorized_payment(api, amount=7_777)

    body = capture(api, payment["id"]).json()

    assert (body["status"], body["amount_captured"]) == ("captured", 7_777)


def test_chargeback_token_authorizes_and_captures_normally(api):
    payment = create_payment(api, payment_method={"type": "card", "token": "tok_chargeback"})

    body = authorize(api, payment["id"]).json()

    assert (body["status"], body["amount_captured"]) == ("captured", payment["amount"])


@pytest.mark.parametrize(
    ("token", "failure_code"), [("tok_decline", "card_declined"), ("tok_insufficient_funds", "insufficient_funds")]
)
def test_declined_authorization_fails_the_payment(api, token, failure_code):
    payment = create_payment(api, payment_method={"type": "card", "token": token})

    response = authorize(api, payment["id"])

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["failure_code"]) == ("failed", failure_code)
    assert body["failure_message"]
    assert (body["amount_capturable"], body["amount_captured"]) == (0, 0)
    assert _event_types(payment["id"])[-1] == "payment.failed"
    for action in (capture, cancel, refund, authorize):
        assert_problem(action(api, payment["id"]), 409, "invalid_state_transition")
    assert Payment.objects.get(pk=payment["id"]).status == "failed"


@pytest.mark.parametrize("capture_method", ["manual", "automatic"])
def test_async_authorization_is_resolved_by_status_polling(api, sandbox, capture_method):
    sandbox.settings.async_delay_seconds = 0  # the sandbox decides at the next look
    payment = create_payment(api, capture_method=capture_method, payment_method={"type": "card", "token": "tok_async"})

    body = authorize(api, payment["id"]).json()

    assert body["status"] == "authorization_requested"
    assert list(_operations(payment["id"]).values_list("kind", "status")) == [("authorize", "pending")]

    tasks.resolve_pending_provider_operations()  # not due yet: the provider is not asked
    assert Payment.objects.get(pk=payment["id"]).status == "authorization_requested"
    assert _operations(payment["id"]).get().status_checks == 0

    _make_due(payment["id"])
    tasks.resolve_pending_provider_operations()

    stored = get(api, f"/payments/{payment['id']}").json()
    assert stored["status"] == ("authorized" if capture_method == "manual" else "captured")
    assert stored["provider_reference"]
    assert _event_types(payment["id"]).count("payment.authorized") == 1


def test_async_authorization_not_decided_yet_stays_requested(api, sandbox):
    sandbox.settings.async_delay_seconds = 60  # the sandbox has not decided when we ask
    payment = create_payment(api, payment_method={"type": "card", "token": "tok_async"})
    authorize(api, payment["id"])
    _make_due(payment["id"])

    tasks.resolve_pending_provider_operations()

    assert Payment.objects.get(pk=payment["id"]).status == "authorization_requested"
    operation = _operations(payment["id"]).get()
    assert operation.status in OPEN_STATUSES
    assert operation.status_checks == 1
    tasks.resolve_pending_provider_operations()  # the next check is scheduled later, with backoff
    assert _operations(payment["id"]).get().status_checks == 1


def test_timed_out_authorization_stays_requested_until_polling_resolves_it(api):
    payment = create_payment(api, capture_method="manual", payment_method={"type": "card", "token": "tok_timeout"})

    response = authorize(api, payment["id"])

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "authorization_requested"
    operation = _operations(payment["id"]).get()
    assert operation.status == OperationStatus.UNKNOWN

    _make_due(payment["id"])
    tasks.resolve_pending_provider_operations()

    stored = Payment.objects.get(pk=payment["id"])
    assert (stored.status, stored.amount_capturable) == ("authorized", stored.amount)
    assert stored.provider_reference
    events_after_first_resolution = _event_types(payment["id"])
    assert events_after_first_resolution.count("payment.authorized") == 1

    # The same answer applied again (a late webhook, a second poller) changes nothing.
    approved = ProviderResult(outcome=Outcome.APPROVED, provider_reference=stored.provider_reference)
    assert services.operation_apply_result(operation=operation, result=approved).status == "succeeded"
    assert services.operation_resolve(operation_id=operation.id) == "succeeded"
    tasks.resolve_pending_provider_operations()  # polling again asks nothing and changes nothing
    assert _event_types(payment["id"]) == events_after_first_resolution
    again = Payment.objects.get(pk=payment["id"])
    assert (again.status, again.updated_at, again.amount_capturable) == ("authorized", stored.updated_at, stored.amount)


def test_timed_out_authorization_with_automatic_capture_is_captured_once_resolved(api):
    payment = create_payment(api, payment_method={"type": "card", "token": "tok_timeout"})
    authorize(api, payment["id"])
    _make_due(payment["id"])

    tasks.resolve_pending_provider_operations()

    stored = Payment.objects.get(pk=payment["id"])
    assert (stored.status, stored.amount_captured) == ("captured", stored.amount)
    assert _event_types(payment["id"]).count("payment.captured") == 1


# --- cancel ----------------------------------------------------------------------------------------
def test_cancel_a_created_payment(api):
    payment = create_payment(api)

    response = cancel(api, payment["id"])

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["cancellation_reason"]) == ("canceled", "requested_by_merchant")
    assert not _operations(payment["id"]).exists()  # nothing to release at the provider
    assert _event_types(payment["id"]) == ["payment.created", "payment.canceled"]
    assert_problem(authorize(api, payment["id"]), 409, "invalid_state_transition")


def test_cancel_an_authorized_payment_voids_it(api):
    payment = authorized_payment(api, amount=5_000)

    body = cancel(api, payment["id"]).json()

    assert (body["status"], body["cancellation_reason"], body["amount_capturable"]) == (
        "canceled",
        "requested_by_merchant",
        0,
    )
    assert list(_operations(payment["id"], "void").values_list("status", flat=True)) == ["succeeded"]
    assert _event_types(payment["id"])[-1] == "payment.canceled"
    assert_problem(capture(api, payment["id"]), 409, "invalid_state_transition")


# --- refunds ---------------------------------------------------------------------------------------
def test_partial_refunds_up_to_the_full_amount(api):
    payment = captured_payment(api, amount=10_000)

    first = refund(api, payment["id"], 3_000)
    after_first = get(api, f"/payments/{payment['id']}").json()
    second = refund(api, payment["id"], 3_000)
    too_much = refund(api, payment["id"], 4_001)
    last = refund(api, payment["id"])  # no amount: what remains

    assert first.status_code == second.status_code == last.status_code == 201
    assert (after_first["status"], after_first["amount_refunded"]) == ("captured", 3_000)
    assert_problem(too_much, 409, "amount_exceeds_refundable")
    refund_body = last.json()
    assert refund_body["id"].startswith("re_")
    assert (refund_body["object"], refund_body["payment"], refund_body["amount"]) == ("refund", payment["id"], 4_000)
    assert (refund_body["currency"], refund_body["status"]) == ("BRL", "succeeded")
    assert get(api, f"/refunds/{refund_body['id']}").json() == refund_body
    final = get(api, f"/payments/{payment['id']}").json()
    assert (final["status"], final["amount_refunded"], final["amount_captured"]) == ("refunded", 10_000, 10_000)
    assert sorted(Refund.objects.filter(payment_id=payment["id"]).values_list("amount", flat=True)) == [
        3_000,
        3_000,
        4_000,
    ]
    assert_problem(refund(api, payment["id"], 1), 409, "invalid_state_transition")


def _unreachable(settings, provider: str) -> dict:
    """Points `provider` at a port nothing listens on (connection refused: nothing is sent);
    returns the settings to restore."""
    reachable = settings.PROVIDERS
    settings.PROVIDERS = {**reachable, provider: {**reachable[provider], "base_url": "http://127.0.0.1:9/nothing"}}
    reset_providers()
    return reachable


def test_capture_and_cancel_that_cannot_reach_the_provider_answer_503_and_change_nothing(api, settings):
    payment = authorized_payment(api, amount=5_000)
    reachable = _unreachable(settings, payment["provider"])

    key = "capture-while-down"
    assert_problem(capture(api, payment["id"], key=key), 503, "provider_unavailable")
    assert_problem(cancel(api, payment["id"]), 503, "provider_unavailable")
    unchanged = get(api, f"/payments/{payment['id']}").json()
    assert (unchanged["status"], unchanged["amount_captured"]) == ("authorized", 0)
    assert not _operations(payment["id"]).filter(status__in=OPEN_STATUSES).exists()

    # Back online, the same request (same idempotency key: a 503 is not stored) captures it.
    settings.PROVIDERS = reachable
    reset_providers()
    retried = capture(api, payment["id"], key=key)
    assert retried.status_code == 200, retried.content
    assert (retried.json()["status"], retried.json()["amount_captured"]) == ("captured", 5_000)
    assert _event_types(payment["id"]).count("payment.captured") == 1


def test_a_refund_that_cannot_reach_the_provider_fails_and_frees_its_amount(api, settings):
    payment = captured_payment(api, amount=5_000)
    reachable = _unreachable(settings, payment["provider"])

    failed = refund(api, payment["id"], 2_000)
    assert failed.status_code == 201, failed.content
    assert (failed.json()["status"], failed.json()["failure_code"]) == ("failed", "provider_unavailable")

    settings.PROVIDERS = reachable
    reset_providers()
    whole = refund(api, payment["id"])  # the failed refund's 2,000 is refundable again
    assert (whole.status_code, whole.json()["amount"], whole.json()["status"]) == (201, 5_000, "succeeded")
    final = get(api, f"/payments/{payment['id']}").json()
    assert (final["status"], final["amount_refunded"]) == ("refunded", 5_000)


def test_refund_keeps_its_reason(api):
    payment = captured_payment(api)

    without = refund(api, payment["id"], 100)
    with_reason = post(api, f"/payments/{payment['id']}/refunds", {"amount": 100, "reason": "customer asked"})

    assert (without.status_code, without.json()["reason"]) == (201, None)
    assert (with_reason.status_code, with_reason.json()["reason"]) == (201, "customer asked")
    assert get(api, f"/refunds/{with_reason.json()['id']}").json()["reason"] == "customer asked"


def test_refund_of_a_partial_capture_is_limited_to_what_was_captured(api):
    payment = authorized_payment(api, amount=10_000)
    capture(api, payment["id"], 4_000)

    assert_problem(refund(api, payment["id"], 4_001), 409, "amount_exceeds_refundable")
    assert refund(api, payment["id"]).json()["amount"] == 4_000
    assert Payment.objects.get(pk=payment["id"]).status == "refunded"


# --- the capture window ------------------------------------------------------------------------------
def test_expired_authorizations_are_canceled_by_the_periodic_task(api):
    expired = authorized_payment(api)
    still_open = authorized_payment(api)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE payments_payment SET capture_before = now() - interval '1 minute' WHERE id = %s", [expired["id"]]
        )

    tasks.cancel_expired_authorizations()

    body = get(api, f"/payments/{expired['id']}").json()
    assert (body["status"], body["cancellation_reason"], body["amount_capturable"]) == (
        "canceled",
        "capture_window_expired",
        0,
    )
    assert _event_types(expired["id"])[-1] == "payment.canceled"
    assert get(api, f"/payments/{still_open['id']}").json()["status"] == "authorized"
    tasks.cancel_expired_authorizations()  # running it again changes nothing
    assert _event_types(expired["id"]).count("payment.canceled") == 1
    assert_problem(capture(api, expired["id"]), 409, "invalid_state_transition")


# --- every provider ----------------------------------------------------------------------------------
@pytest.mark.parametrize("provider", PROVIDERS)
def test_full_lifecycle_with_each_provider(api, provider):
    payment = create_payment(api, amount=9_000, capture_method="manual", provider=provider)
    assert payment["provider"] == provider

    authorized = authorize(api, payment["id"]).json()
    assert (authorized["status"], authorized["provider"]) == ("authorized", provider)
    assert authorized["provider_reference"]

    captured = capture(api, payment["id"], 8_000).json()
    assert (captured["status"], captured["amount_captured"]) == ("captured", 8_000)

    first = refund(api, payment["id"], 3_000)
    second = refund(api, payment["id"])
    assert (first.status_code, first.json()["status"]) == (201, "succeeded")
    assert (second.json()["amount"], second.json()["status"]) == (5_000, "succeeded")

    final = get(api, f"/payments/{payment['id']}").json()
    assert (final["status"], final["amount_refunded"], final["provider"]) == ("refunded", 8_000, provider)
    assert set(_operations(payment["id"]).values_list("provider", flat=True)) == {provider}
    assert set(_operations(payment["id"]).values_list("status", flat=True)) == {"succeeded"}


@pytest.mark.parametrize("provider", PROVIDERS)
def test_void_with_each_provider(api, provider):
    payment = authorized_payment(api, provider=provider)

    body = cancel(api, payment["id"]).json()

    assert (body["status"], body["provider"]) == ("canceled", provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_decline_with_each_provider(api, provider):
    payment = create_payment(api, provider=provider, payment_method={"type": "card", "token": "tok_decline"})

    body = authorize(api, payment["id"]).json()

    assert (body["status"], body["failure_code"], body["provider"]) == ("failed", "card_declined", provider)


@pytest.mark.parametrize("provider", PROVIDERS)
def test_timeout_resolved_by_polling_with_each_provider(api, provider):
    payment = create_payment(
        api, provider=provider, capture_method="manual", payment_method={"type": "card", "token": "tok_timeout"}
    )
    assert authorize(api, payment["id"]).json()["status"] == "authorization_requested"
    _make_due(payment["id"])

    tasks.resolve_pending_provider_operations()

    assert Payment.objects.get(pk=payment["id"]).status == "authorized"
    assert capture(api, payment["id"]).json()["status"] == "captured"


def test_without_a_provider_routing_chooses_one(api):
    payment = create_payment(api)
    assert payment["provider"] is None

    body = authorize(api, payment["id"]).json()

    assert body["provider"] in PROVIDERS
    assert body["status"] == "captured"
