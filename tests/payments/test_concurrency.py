"""Races on real PostgreSQL with real threads: what is in the database afterwards is what counts."""

from collections import Counter
from datetime import timedelta
from unittest import mock

import pytest
from django.db import connection, transaction
from django.utils import timezone

from events.models import DomainEvent
from payments import services
from payments.errors import CaptureWindowExpired
from payments.locks import lock_payment
from payments.models import Payment, ProviderOperation, Refund
from providers.registry import reset_providers
from tests.payments.helpers import (
    assert_problem,
    authorized_payment,
    capture,
    captured_payment,
    client_for,
    new_key,
    refund,
    run_concurrently,
)

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 20


@pytest.fixture(autouse=True)
def patient_providers(sandbox_providers, settings):
    """Twenty requests at once on a small machine can take longer than the suite's short provider
    timeout; a timed-out call would be an unknown outcome, which is not what these tests are about."""
    settings.PROVIDERS = {name: {**config, "timeout": 10.0} for name, config in settings.PROVIDERS.items()}
    reset_providers()


def _captures(payment_id: str):
    return ProviderOperation.objects.filter(payment_id=payment_id, kind="capture")


def _events(payment_id: str, event_type: str) -> int:
    return DomainEvent.objects.filter(aggregate_id=payment_id, type=event_type).count()


def test_concurrent_captures_with_one_key_capture_once_and_answer_alike(api, api_key):
    payment = authorized_payment(api, amount=5_000)
    key = new_key()

    def work(_):
        return capture(client_for(api_key), payment["id"], key=key)

    responses = run_concurrently(THREADS, work)

    answers = {(response.status_code, response.content) for response in responses}
    assert len(answers) == 1, Counter(response.status_code for response in responses)
    ((status, _),) = answers
    assert status == 200
    # one request ran; the others waited for it and replayed its answer
    assert sum(response.has_header("Idempotent-Replayed") for response in responses) == THREADS - 1
    stored = Payment.objects.get(pk=payment["id"])
    assert (stored.status, stored.amount_captured, stored.amount_capturable) == ("captured", 5_000, 0)
    assert _captures(payment["id"]).count() == 1
    assert _events(payment["id"], "payment.captured") == 1


def test_concurrent_captures_with_different_keys_let_exactly_one_through(api, api_key):
    payment = authorized_payment(api, amount=5_000)

    def work(_):
        response = capture(client_for(api_key), payment["id"])
        return response

    responses = run_concurrently(THREADS, work)

    statuses = Counter(response.status_code for response in responses)
    assert statuses == {200: 1, 409: THREADS - 1}, statuses
    for response in responses:
        if response.status_code == 409:
            problem = assert_problem(response, 409)
            assert problem["code"] in {"operation_in_progress", "invalid_state_transition"}, problem
    stored = Payment.objects.get(pk=payment["id"])
    assert (stored.status, stored.amount_captured) == ("captured", 5_000)
    assert list(_captures(payment["id"]).values_list("status", flat=True)) == ["succeeded"]
    assert _events(payment["id"], "payment.captured") == 1


def test_concurrent_partial_refunds_never_exceed_the_captured_amount(api, api_key):
    payment = captured_payment(api, amount=10_000)
    each = 700  # 20 x 700 = 14,000 asked for; 14 fit in 10,000

    def work(_):
        return refund(client_for(api_key), payment["id"], each)

    responses = run_concurrently(THREADS, work)

    created = [response.json() for response in responses if response.status_code == 201]
    for response in responses:
        if response.status_code != 201:
            assert_problem(response, 409, "amount_exceeds_refundable")
    assert len(created) == 10_000 // each
    refund_ids = [body["id"] for body in created]
    assert len(set(refund_ids)) == len(refund_ids)
    rows = {row.id: row for row in Refund.objects.filter(payment_id=payment["id"])}
    assert set(rows) == set(refund_ids)  # every 201 is exactly one row, and no row lacks a 201
    assert all(row.status == "succeeded" and row.amount == each for row in rows.values())
    stored = Payment.objects.get(pk=payment["id"])
    refunded = sum(row.amount for row in rows.values())
    assert refunded <= stored.amount_captured
    assert stored.amount_refunded == refunded
    assert stored.amount_refund_pending == 0
    assert _events(payment["id"], "refund.succeeded") == len(created)


def test_concurrent_refunds_of_the_remainder_refund_it_once(api, api_key):
    payment = captured_payment(api, amount=3_000)

    def work(_):
        return refund(client_for(api_key), payment["id"])  # no amount: everything that is left

    responses = run_concurrently(THREADS, work)

    statuses = Counter(response.status_code for response in responses)
    assert statuses[201] == 1, statuses
    assert set(statuses) <= {201, 409}
    stored = Payment.objects.get(pk=payment["id"])
    assert (stored.status, stored.amount_refunded) == ("refunded", 3_000)
    assert Refund.objects.filter(payment_id=payment["id"]).count() == 1


# --- the capture window follows the database clock ------------------------------------------------
def test_capture_exactly_at_capture_before_is_refused(api):
    payment = authorized_payment(api)

    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("UPDATE payments_payment SET capture_before = now() WHERE id = %s", [payment["id"]])
        locked = lock_payment(payment_id=payment["id"])
        assert locked.db_now >= locked.capture_before
        with pytest.raises(CaptureWindowExpired):
            services.ensure_capture_window_open(locked)
        # The boundary itself: open strictly before capture_before, closed at it.
        locked.capture_before = locked.db_now
        with pytest.raises(CaptureWindowExpired):
            services.ensure_capture_window_open(locked)
        locked.capture_before = locked.db_now + timedelta(microseconds=1)
        services.ensure_capture_window_open(locked)


def test_capture_after_capture_before_is_refused_and_changes_nothing(api):
    payment = authorized_payment(api)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE payments_payment SET capture_before = now() - interval '1 second' WHERE id = %s", [payment["id"]]
        )

    response = capture(api, payment["id"])

    assert_problem(response, 409, "capture_window_expired")
    stored = Payment.objects.get(pk=payment["id"])
    assert (stored.status, stored.amount_captured) == ("authorized", 0)
    assert not _captures(payment["id"]).exists()


def test_capture_window_ignores_the_app_server_clock_running_ahead(api):
    payment = authorized_payment(api)  # the database says the window is open for days
    far_future = timezone.now() + timedelta(days=365)

    with mock.patch("django.utils.timezone.now", return_value=far_future):
        response = capture(api, payment["id"])

    assert response.status_code == 200, response.content
    assert response.json()["status"] == "captured"


def test_capture_window_ignores_the_app_server_clock_running_behind(api):
    payment = authorized_payment(api)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE payments_payment SET capture_before = now() - interval '1 minute' WHERE id = %s", [payment["id"]]
        )
    far_past = timezone.now() - timedelta(days=365)

    with mock.patch("django.utils.timezone.now", return_value=far_past):
        response = capture(api, payment["id"])

    assert_problem(response, 409, "capture_window_expired")
    assert Payment.objects.get(pk=payment["id"]).status == "authorized"
