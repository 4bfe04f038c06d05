"""Every line of a request or task carries its correlation and causation ids, and the merchant and
payment it is about where known (core.context, core.logging.RequestContextFilter)."""

import logging
import threading

import pytest
from django.db import connection

from core import context
from payments import tasks
from payments.models import Payment
from tests.payments.helpers import authorized_payment, capture

pytestmark = pytest.mark.django_db(transaction=True)


def test_every_line_of_a_capture_through_the_api_names_the_request_merchant_and_payment(api, merchant, caplog):
    payment = authorized_payment(api)

    with caplog.at_level(logging.INFO):
        response = capture(api, payment["id"], HTTP_X_REQUEST_ID="capture-req-1")
    assert response.status_code == 200, response.content

    # This thread's: the provider sandbox answers from threads of its own.
    records = [r for r in caplog.records if r.thread == threading.get_ident()]
    assert {r.name for r in records} >= {"payments.services", "payments_core.request"}  # the provider call, the request
    for record in records:
        assert (record.correlation_id, record.causation_id) == ("capture-req-1", "capture-req-1"), record.getMessage()
        assert record.merchant_id == merchant.id, record.getMessage()
        assert record.payment_id == payment["id"], record.getMessage()
    # Reset at the end of the request: nothing leaks into what this thread does next.
    assert (context.payment_id.get(), context.merchant_id.get(), context.correlation_id.get()) == (None, None, None)


def test_a_created_payment_is_named_on_the_request_line(api, caplog):
    from tests.payments.helpers import create_payment

    with caplog.at_level(logging.INFO, logger="payments_core.request"):
        created = create_payment(api, capture_method="manual")

    request_line = next(r for r in caplog.records if r.name == "payments_core.request")
    assert request_line.payment_id == created["id"]


def test_a_task_acting_on_a_payment_logs_with_its_payment_and_its_own_correlation_id(api, caplog):
    payment = authorized_payment(api)
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE payments_payment SET capture_before = now() - interval '1 minute' WHERE id = %s", [payment["id"]]
        )

    with caplog.at_level(logging.INFO):
        assert tasks.cancel_expired_authorizations.apply().get() == 1

    assert Payment.objects.get(pk=payment["id"]).status == "canceled"
    [line] = [r for r in caplog.records if r.name == "payments.tasks"]
    assert line.getMessage() == "authorization expired: payment canceled"
    assert line.payment_id == payment["id"]  # from the context: the call names no payment itself
    assert (line.correlation_id, line.causation_id) == (f"expiry:{payment['id']}", payment["id"])
    assert context.payment_id.get() is None


def test_every_line_of_a_task_carries_the_task_id_unless_the_task_binds_its_own(caplog):
    with caplog.at_level(logging.INFO):
        result = tasks.resolve_provider_operation.apply(args=["op_does_not_exist"], task_id="task-123")

    assert result.failed()
    failure = next(r for r in caplog.records if r.name == "celery.app.trace")
    assert failure.levelno == logging.ERROR
    assert (failure.correlation_id, failure.causation_id) == ("task-123", "task-123")
    assert context.correlation_id.get() is None  # unbound after the task
