"""What a provider's notification does to a payment: it brings an outcome our own call lost (or
never had), once, through the same step that applies answers to calls and status polls."""

import logging
from datetime import timedelta

import pytest
from django.db import connection

from ledger.verification import verify
from payments.models import OperationStatus, Payment, ProviderOperation, Refund
from sandbox.faults import Faults
from tests.factories import PaymentFactory
from tests.payments.helpers import (
    authorize,
    authorized_payment,
    cancel,
    capture,
    captured_payment,
    create_payment,
    refund,
)
from tests.webhooks.helpers import deliver, event_types, recorded, sandbox_dispute, synthetic
from webhooks import services, tasks
from webhooks.models import InboundNotification

TIMEOUT = Faults(timeout_rate=1.0)


def _operations(payment_id: str, kind: str) -> list[str]:
    return list(ProviderOperation.objects.filter(payment_id=payment_id, kind=kind).values_list("status", flat=True))


def _processed(response) -> InboundNotification:
    assert response.status_code == 200, response.content
    return InboundNotification.objects.get(pk=response.json()["id"])


@pytest.mark.django_db(transaction=True)
def test_an_async_authorization_is_decided_by_the_notification_and_then_captured(client, api, recorder):
    payment = create_payment(api, provider="getnet", payment_method={"type": "card", "token": "tok_async"})
    assert authorize(api, payment["id"]).json()["status"] == "authorization_requested"

    stored = _processed(deliver(client, recorded(recorder, payment["id"], "authorization")))

    assert (stored.status, stored.result) == ("applied", "The authorize succeeded.")
    captured = Payment.objects.get(pk=payment["id"])
    assert (captured.status, captured.amount_captured) == ("captured", 10_000)
    assert _operations(payment["id"], "authorize") == ["succeeded"]
    assert _operations(payment["id"], "capture") == ["succeeded"]
    assert event_types(payment["id"]) == [
        "payment.created",
        "payment.authorization_requested",
        "payment.authorized",
        "payment.captured",
    ]
    # The capture's own notification comes later and finds nothing left to do.
    late = _processed(deliver(client, recorded(recorder, payment["id"], "capture")))
    assert (late.status, late.result) == ("ignored", "The capture was already applied.")
    assert verify() == []


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("provider", "token", "failure_code"),
    [("cielo", "tok_decline", "card_declined"), ("rede", "tok_insufficient_funds", "insufficient_funds")],
)
def test_a_decline_whose_answer_was_lost_is_applied_from_the_notification(
    client, api, recorder, provider_sandbox, provider, token, failure_code
):
    payment = create_payment(api, provider=provider, payment_method={"type": "card", "token": token})
    provider_sandbox.faults.set(provider, TIMEOUT)
    assert authorize(api, payment["id"]).json()["status"] == "authorization_requested"
    provider_sandbox.faults.clear()

    _processed(deliver(client, recorded(recorder, payment["id"], "authorization")))

    failed = Payment.objects.get(pk=payment["id"])
    assert (failed.status, failed.failure_code) == ("failed", failure_code)
    assert _operations(payment["id"], "authorize") == ["failed"]
    assert event_types(payment["id"])[-1] == "payment.failed"


@pytest.mark.django_db(transaction=True)
def test_lost_answers_to_capture_void_and_refund_are_applied_from_notifications(
    client, api, recorder, provider_sandbox
):
    # (Cielo and Rede read a sale before cancelling it: with every answer late, their voids and
    # refunds are never sent at all. Getnet's are single calls.)
    to_capture = authorized_payment(api, provider="rede")
    to_void = authorized_payment(api, provider="getnet")
    to_refund = captured_payment(api, provider="getnet")
    provider_sandbox.faults.set("all", TIMEOUT)
    capture(api, to_capture["id"], 6_000)
    cancel(api, to_void["id"])
    pending = refund(api, to_refund["id"], 2_500).json()
    provider_sandbox.faults.clear()
    assert Payment.objects.get(pk=to_capture["id"]).status == "authorized"
    assert Payment.objects.get(pk=to_void["id"]).status == "authorized"
    assert pending["status"] == "pending"

    for payment_id, kind in ((to_capture["id"], "capture"), (to_void["id"], "void"), (to_refund["id"], "refund")):
        assert _processed(deliver(client, recorded(recorder, payment_id, kind))).status == "applied"

    assert Payment.objects.get(pk=to_capture["id"]).amount_captured == 6_000
    assert _operations(to_capture["id"], "capture") == [OperationStatus.SUCCEEDED]
    voided = Payment.objects.get(pk=to_void["id"])
    assert (voided.status, voided.cancellation_reason) == ("canceled", "requested_by_merchant")
    assert Refund.objects.get(pk=pending["id"]).status == "succeeded"
    assert Payment.objects.get(pk=to_refund["id"]).amount_refunded == 2_500
    assert verify() == []


@pytest.mark.django_db
def test_a_notification_about_no_payment_of_ours_is_ignored_and_reported(
    client, caplog, django_capture_on_commit_callbacks
):
    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, synthetic("cielo", "authorization", payment_id="pay_NOTOURS"))

    stored = _processed(response)
    assert (stored.verdict, stored.status, stored.result) == ("accepted", "ignored", "No payment pay_NOTOURS.")
    assert any(r.message == "provider notification contradicts our records" for r in caplog.records)


@pytest.mark.django_db
def test_a_notification_from_another_provider_than_the_payments_is_ignored(client, django_capture_on_commit_callbacks):
    payment = PaymentFactory(status="authorization_requested", provider="cielo")

    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, synthetic("rede", "authorization", payment_id=payment.id))

    assert _processed(response).status == "ignored"
    assert Payment.objects.get(pk=payment.id).status == "authorization_requested"


@pytest.mark.django_db
def test_an_amount_that_disagrees_with_the_operation_is_not_applied(client, django_capture_on_commit_callbacks):
    payment = PaymentFactory(status="authorization_requested", provider="getnet", amount=10_000)
    ProviderOperation.objects.create(
        payment=payment, kind="authorize", provider="getnet", amount=10_000, reference=f"{payment.id}:getnet"
    )

    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, synthetic("getnet", "authorization", payment_id=payment.id, amount=99_999))

    stored = _processed(response)
    assert stored.status == "ignored" and "99999" in stored.result
    assert Payment.objects.get(pk=payment.id).status == "authorization_requested"


@pytest.mark.django_db
def test_a_failure_while_applying_is_kept_and_retried(client, monkeypatch, django_capture_on_commit_callbacks):
    payment = PaymentFactory(status="authorization_requested", provider="rede", capture_method="manual")
    ProviderOperation.objects.create(
        payment=payment, kind="authorize", provider="rede", amount=payment.amount, reference=f"{payment.id}:rede"
    )
    real_apply = services.payment_notifications.notification_apply
    monkeypatch.setattr(services.payment_notifications, "notification_apply", lambda **kwargs: 1 / 0)

    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, synthetic("rede", "authorization", payment_id=payment.id))

    stored = _processed(response)
    assert (stored.status, stored.attempts) == ("pending", 1)
    assert stored.result.startswith("Error: ZeroDivisionError")
    monkeypatch.setattr(services.payment_notifications, "notification_apply", real_apply)
    _make_due()

    assert tasks.retry_provider_notifications() == 1

    stored.refresh_from_db()
    assert (stored.status, stored.attempts) == ("applied", 2)
    assert Payment.objects.get(pk=payment.id).status == "authorized"


@pytest.mark.django_db
def test_a_notification_whose_task_was_lost_is_applied_by_the_sweep(
    client, monkeypatch, django_capture_on_commit_callbacks
):
    payment = PaymentFactory(status="authorization_requested", provider="cielo", capture_method="manual")
    ProviderOperation.objects.create(
        payment=payment, kind="authorize", provider="cielo", amount=payment.amount, reference=f"{payment.id}:cielo"
    )

    def broker_down(notification_id):
        raise ConnectionError("broker unreachable")

    monkeypatch.setattr(tasks.apply_provider_notification, "delay", broker_down)
    with django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, synthetic("cielo", "authorization", payment_id=payment.id))
    stored = _processed(response)
    assert stored.status == "pending"
    assert tasks.retry_provider_notifications() == 0  # not due yet: its own task may still run
    monkeypatch.undo()
    _make_due()

    assert tasks.retry_provider_notifications() == 1

    assert InboundNotification.objects.get(pk=stored.pk).status == "applied"
    assert Payment.objects.get(pk=payment.id).status == "authorized"


@pytest.mark.django_db
def test_a_dispute_that_cannot_apply_for_days_is_given_up_for_an_operator(
    client, monkeypatch, caplog, django_capture_on_commit_callbacks
):
    payment = PaymentFactory(authorized=True, provider="getnet")
    monkeypatch.setattr(services, "GIVE_UP_AFTER", timedelta(0))
    dispute = sandbox_dispute("getnet", amount=payment.amount)

    with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
        response = deliver(client, synthetic("getnet", "dispute_opened", payment_id=payment.id, dispute=dispute))

    stored = _processed(response)
    assert stored.status == "failed" and "not recorded yet" in stored.result
    assert any(r.message == "provider notification given up" for r in caplog.records)
    assert not payment.disputes.exists()


def _make_due() -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE webhooks_inboundnotification SET next_attempt_at = now() - interval '1 second'"
            " WHERE status IN ('pending', 'deferred')"
        )
