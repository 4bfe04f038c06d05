"""Idempotency-Key rules of the public contract, seen from a merchant's system."""

import json
from datetime import timedelta

import pytest
from django.db.models.functions import Now

from core.idempotency import fingerprint
from core.models import IdempotencyKey
from core.tasks import purge_expired_idempotency_keys
from events.models import DomainEvent
from payments.models import Payment
from tests.factories import PaymentFactory
from tests.payments.helpers import API, assert_problem, cancel, new_key, payment_body, post

pytestmark = pytest.mark.django_db


def _raw(body: dict) -> bytes:
    return json.dumps(body, separators=(",", ":")).encode()


# --- the key itself --------------------------------------------------------------------------
def test_post_without_key_is_refused_and_creates_nothing(api, merchant):
    response = api.post(f"{API}/payments", payment_body(), format="json")

    assert_problem(response, 400, "idempotency_key_required")
    assert Payment.objects.filter(merchant=merchant).count() == 0
    assert IdempotencyKey.objects.filter(merchant=merchant).count() == 0


def test_empty_key_counts_as_missing(api, merchant):
    response = post(api, "/payments", payment_body(), key="")

    assert_problem(response, 400, "idempotency_key_required")
    assert Payment.objects.filter(merchant=merchant).count() == 0


def test_action_without_key_is_refused_and_changes_nothing(api, merchant):
    payment = PaymentFactory(merchant=merchant)

    response = api.post(f"{API}/payments/{payment.id}/cancel", {}, format="json")

    assert_problem(response, 400, "idempotency_key_required")
    payment.refresh_from_db()
    assert payment.status == "created"


@pytest.mark.parametrize(
    "key",
    ["k" * 256, "abc\x01def", "tab\there", "new\nline", "del\x7f"],
    ids=["256-chars", "control-char", "tab", "newline", "DEL"],
)
def test_invalid_key_is_refused_and_creates_nothing(api, key, merchant):
    response = post(api, "/payments", payment_body(), key=key)

    assert_problem(response, 400, "idempotency_key_invalid")
    assert Payment.objects.filter(merchant=merchant).count() == 0
    assert IdempotencyKey.objects.filter(merchant=merchant).count() == 0


@pytest.mark.parametrize("key", ["k" * 255, "a", "order 42/retry #1 ~!@"], ids=["255-chars", "1-char", "punctuation"])
def test_any_printable_key_of_1_to_255_chars_is_accepted(api, key, merchant):
    response = post(api, "/payments", payment_body(), key=key)

    assert response.status_code == 201, response.content
    assert Payment.objects.filter(merchant=merchant).count() == 1


# --- replay ----------------------------------------------------------------------------------
def test_same_request_again_replays_the_stored_answer_byte_for_byte(api, merchant):
    key = new_key()

    first = post(api, "/payments", payment_body(reference="order-1"), key=key)
    second = post(api, "/payments", payment_body(reference="order-1"), key=key)

    assert first.status_code == second.status_code == 201
    assert second.content == first.content
    assert second["Content-Type"] == first["Content-Type"]
    assert second["Idempotent-Replayed"] == "true"
    assert not first.has_header("Idempotent-Replayed")
    assert Payment.objects.filter(merchant=merchant).count() == 1
    assert DomainEvent.objects.filter(merchant=merchant, type="payment.created").count() == 1


def test_validation_errors_are_replayed_too(api, merchant):
    key = new_key()
    body = payment_body(amount="100")

    first = post(api, "/payments", body, key=key)
    second = post(api, "/payments", body, key=key)

    problem = assert_problem(first, 400, "validation_error")
    assert "amount" in {error["field"] for error in problem["errors"]}
    assert second.status_code == 400
    assert second.content == first.content
    assert second["Content-Type"].startswith("application/problem+json")
    assert second["Idempotent-Replayed"] == "true"
    assert Payment.objects.filter(merchant=merchant).count() == 0


def test_replay_does_not_run_the_request_again(api, merchant):
    """The second call answers what the first answered, even though running it again would now
    give another answer (the payment is already canceled)."""
    payment = PaymentFactory(merchant=merchant)
    key = new_key()

    first = cancel(api, payment.id, key=key)
    second = cancel(api, payment.id, key=key)
    fresh = cancel(api, payment.id)

    assert first.status_code == 200 and first.json()["status"] == "canceled"
    assert second.status_code == 200 and second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert_problem(fresh, 409, "invalid_state_transition")
    assert DomainEvent.objects.filter(aggregate_id=payment.id, type="payment.canceled").count() == 1


def test_a_stored_error_is_replayed_even_when_the_request_would_now_succeed(api, merchant):
    payment = PaymentFactory(merchant=merchant, status="canceled", cancellation_reason="requested_by_merchant")
    key = new_key()
    first = cancel(api, payment.id, key=key)
    assert_problem(first, 409, "invalid_state_transition")
    # Put the row back where a cancel would succeed (a test-only manipulation of the database).
    Payment.objects.filter(pk=payment.pk).update(status="created", cancellation_reason="")

    second = cancel(api, payment.id, key=key)

    assert second.status_code == 409
    assert second.content == first.content
    assert second["Idempotent-Replayed"] == "true"
    assert Payment.objects.get(pk=payment.pk).status == "created"


# --- reuse for another request ---------------------------------------------------------------
def test_same_key_with_a_different_body_is_refused(api, merchant):
    key = new_key()
    first = post(api, "/payments", payment_body(amount=1000), key=key)
    assert first.status_code == 201

    second = post(api, "/payments", payment_body(amount=2000), key=key)

    assert_problem(second, 422, "idempotency_key_reused")
    assert list(Payment.objects.filter(merchant=merchant).values_list("amount", flat=True)) == [1000]


def test_same_key_with_a_different_path_is_refused(api, merchant):
    one, two = PaymentFactory(merchant=merchant), PaymentFactory(merchant=merchant)
    key = new_key()
    assert cancel(api, one.id, key=key).status_code == 200

    response = cancel(api, two.id, key=key)

    assert_problem(response, 422, "idempotency_key_reused")
    two.refresh_from_db()
    assert two.status == "created"


def test_keys_belong_to_one_merchant(api, other_api, merchant, other_merchant):
    key = new_key()

    mine = post(api, "/payments", payment_body(reference="mine"), key=key)
    theirs = post(other_api, "/payments", payment_body(reference="theirs"), key=key)
    mine_again = post(api, "/payments", payment_body(reference="mine"), key=key)

    assert mine.status_code == theirs.status_code == 201
    assert not theirs.has_header("Idempotent-Replayed")
    assert mine.json()["id"] != theirs.json()["id"]
    assert mine_again.content == mine.content
    assert Payment.objects.get(merchant=merchant).reference == "mine"
    assert Payment.objects.get(merchant=other_merchant).reference == "theirs"


# --- a first request still running -----------------------------------------------------------
def _in_progress_row(merchant, key: str, body: bytes, *, path: str = f"{API}/payments") -> IdempotencyKey:
    return IdempotencyKey.objects.create(
        merchant=merchant,
        key=key,
        request_method="POST",
        request_path=path,
        request_fingerprint=fingerprint(method="POST", path=path, body=body),
    )


def test_duplicate_of_a_request_still_running_gets_409_once_the_wait_is_over(api, merchant, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0
    body = _raw(payment_body())
    key = new_key()
    _in_progress_row(merchant, key, body)

    response = post(api, "/payments", raw=body, key=key)

    assert_problem(response, 409, "idempotency_key_in_use")
    assert Payment.objects.filter(merchant=merchant).count() == 0
    # The 409 is not stored: the first request still owns the key.
    row = IdempotencyKey.objects.get(merchant=merchant, key=key)
    assert row.state == IdempotencyKey.State.IN_PROGRESS
    assert row.response_status is None


def test_different_request_with_a_key_still_running_is_422_at_once(api, merchant, settings):
    settings.IDEMPOTENCY_WAIT_SECONDS = 0
    key = new_key()
    _in_progress_row(merchant, key, _raw(payment_body(amount=1)))

    response = post(api, "/payments", raw=_raw(payment_body(amount=2)), key=key)

    assert_problem(response, 422, "idempotency_key_reused")
    assert Payment.objects.filter(merchant=merchant).count() == 0


def test_key_abandoned_by_a_dead_request_is_taken_over_by_a_retry(api, merchant, settings):
    body = _raw(payment_body())
    key = new_key()
    _in_progress_row(merchant, key, body)
    IdempotencyKey.objects.filter(key=key).update(
        locked_at=Now() - timedelta(seconds=settings.IDEMPOTENCY_LOCK_TIMEOUT_SECONDS + 60)
    )

    response = post(api, "/payments", raw=body, key=key)

    assert response.status_code == 201, response.content
    assert Payment.objects.filter(merchant=merchant).count() == 1
    row = IdempotencyKey.objects.get(merchant=merchant, key=key)
    assert (row.state, row.response_status) == (IdempotencyKey.State.COMPLETED, 201)


# --- 5xx answers are not stored ----------------------------------------------------------------
def test_key_of_a_request_that_failed_with_5xx_can_be_used_again(api, merchant, monkeypatch):
    from payments import services

    real_create = services.payment_create

    def crash(**kwargs):
        raise RuntimeError("database exploded")

    monkeypatch.setattr(services, "payment_create", crash)
    key = new_key()
    body = payment_body()

    failed = post(api, "/payments", body, key=key)

    problem = assert_problem(failed, 500, "internal_error")
    assert "exploded" not in failed.content.decode() and "Traceback" not in failed.content.decode()
    assert problem["detail"]
    assert not IdempotencyKey.objects.filter(merchant=merchant, key=key).exists()
    assert Payment.objects.filter(merchant=merchant).count() == 0

    monkeypatch.setattr(services, "payment_create", real_create)
    retried = post(api, "/payments", body, key=key)

    assert retried.status_code == 201, retried.content
    assert not retried.has_header("Idempotent-Replayed")
    assert Payment.objects.filter(merchant=merchant).count() == 1


# --- retention ---------------------------------------------------------------------------------
def test_keys_are_kept_at_least_24_hours(api, merchant):
    key = new_key()
    first = post(api, "/payments", payment_body(), key=key)
    IdempotencyKey.objects.filter(key=key).update(created_at=Now() - timedelta(hours=25))

    purge_expired_idempotency_keys()
    again = post(api, "/payments", payment_body(), key=key)

    assert again["Idempotent-Replayed"] == "true"
    assert again.content == first.content
    assert Payment.objects.filter(merchant=merchant).count() == 1


def test_keys_past_their_retention_are_purged(api, merchant, settings):
    key = new_key()
    post(api, "/payments", payment_body(), key=key)
    IdempotencyKey.objects.filter(key=key).update(
        created_at=Now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS + 1)
    )

    assert purge_expired_idempotency_keys() >= 1
    assert not IdempotencyKey.objects.filter(merchant=merchant, key=key).exists()


@pytest.mark.django_db(transaction=True)
def test_a_conflict_with_an_operation_still_running_is_not_stored_under_the_key(api, merchant):
    from payments.models import OperationKind, OperationStatus, ProviderOperation
    from tests.payments.helpers import authorized_payment, capture

    payment = authorized_payment(api)
    in_flight = ProviderOperation.objects.create(
        payment_id=payment["id"],
        kind=OperationKind.VOID,
        provider=payment["provider"],
        amount=payment["amount"],
        reference="op_in_flight",
    )

    assert_problem(capture(api, payment["id"], key="capture-1"), 409, "operation_in_progress")
    assert not IdempotencyKey.objects.filter(merchant=merchant, key="capture-1").exists()

    # Once the other operation is over, the merchant's retry with the same key really runs.
    ProviderOperation.objects.filter(pk=in_flight.pk).update(status=OperationStatus.FAILED)
    retried = capture(api, payment["id"], key="capture-1")

    assert retried.status_code == 200, retried.content
    assert retried.json()["status"] == "captured"
    assert "Idempotent-Replayed" not in retried
