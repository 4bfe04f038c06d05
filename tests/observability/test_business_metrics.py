"""Each business metric on /metrics moves the way the people watching it would notice: a declined
authorization, an open circuit, an operation stuck in an unknown outcome, an event the relay has
not published, a failing webhook endpoint, a forged notification, the reconciliation's open cases
and the ledger's verification."""

import time
from datetime import timedelta

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection
from django.utils import timezone

from events.models import DomainEvent
from ledger.models import Account
from ledger.tasks import verify_ledger
from outbox.models import DeliveryStatus, EndpointStatus, WebhookDelivery, WebhookEndpoint
from payments.models import ProviderOperation
from providers.registry import get_provider
from reconciliation.models import Discrepancy
from reconciliation.tasks import reconcile_provider
from tests.outbox.factories import WebhookEndpointFactory
from tests.payments.helpers import authorize, capture, captured_payment, create_payment
from tests.reconciliation.conftest import settlement_faults, today, traffic  # noqa: F401 (fixtures)

from .scrape import sample

pytestmark = pytest.mark.django_db(transaction=True)


def counted(client, name: str, **labels) -> float:
    return sample(client, name, **labels) or 0.0


def test_a_declined_and_an_approved_authorization_and_a_capture_are_counted_by_provider_and_outcome(api, client):
    declined_before = counted(client, "payments_authorizations_total", provider="rede", outcome="declined")
    approved_before = counted(client, "payments_authorizations_total", provider="rede", outcome="approved")
    captured_before = counted(client, "payments_captures_total", provider="rede", outcome="approved")

    declined = create_payment(api, provider="rede", payment_method={"type": "card", "token": "tok_decline"})
    assert authorize(api, declined["id"]).json()["status"] == "failed"
    approved = create_payment(api, provider="rede", capture_method="manual")
    assert authorize(api, approved["id"]).json()["status"] == "authorized"
    assert capture(api, approved["id"]).json()["status"] == "captured"

    assert counted(client, "payments_authorizations_total", provider="rede", outcome="declined") == declined_before + 1
    assert counted(client, "payments_authorizations_total", provider="rede", outcome="approved") == approved_before + 1
    assert counted(client, "payments_captures_total", provider="rede", outcome="approved") == captured_before + 1


def test_an_open_circuit_shows_state_2_read_from_the_shared_store(client):
    assert sample(client, "provider_circuit_state", provider="getnet") == 0
    breaker = get_provider("getnet").circuit
    for _ in range(breaker.config.failure_threshold):
        breaker.record(breaker.allow(), failed=True, failure="HTTP 503")

    assert sample(client, "provider_circuit_state", provider="getnet") == 2
    assert sample(client, "provider_circuit_state", provider="cielo") == 0


def test_an_unknown_outcome_is_counted_with_the_age_of_the_oldest(api, client):
    assert sample(client, "payments_open_provider_operations", provider="cielo", status="unknown") == 0
    payment = create_payment(api, provider="cielo", payment_method={"type": "card", "token": "tok_timeout"})
    authorize(api, payment["id"])
    operation = ProviderOperation.objects.get(payment_id=payment["id"])
    assert operation.status == "unknown"
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE payments_provideroperation SET created_at = now() - interval '20 minutes' WHERE id = %s",
            [operation.id],
        )

    assert sample(client, "payments_open_provider_operations", provider="cielo", status="unknown") == 1
    age = sample(client, "payments_open_provider_operation_oldest_age_seconds", provider="cielo", status="unknown")
    assert 20 * 60 <= age < 21 * 60
    assert sample(client, "payments_open_provider_operations", provider="rede", status="unknown") == 0


def test_an_old_unpublished_event_shows_as_outbox_lag(merchant, client):
    assert sample(client, "outbox_lag_seconds") == 0
    # An event committed ten minutes ago that the relay has not published (the relay is stopped).
    DomainEvent.objects.create(
        merchant=merchant,
        aggregate_type="payment",
        aggregate_id="pay_STUCK",
        sequence=1,
        type="payment.created",
        data={"object": {}},
        occurred_at=timezone.now() - timedelta(minutes=10),
    )

    assert 600 <= sample(client, "outbox_lag_seconds") < 660


def test_failing_deliveries_and_a_disabled_endpoint_are_counted(api, merchant, client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_TARGETS = True  # the factory's endpoint is on 127.0.0.1, over http
    endpoint = WebhookEndpointFactory(merchant=merchant)
    create_payment(api)
    event = DomainEvent.objects.order_by("id").first()
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint,
        event=event,
        event_type=event.type,
        aggregate_type=event.aggregate_type,
        aggregate_id=event.aggregate_id,
        sequence=event.sequence,
    )
    assert sample(client, "webhook_deliveries_failing", state="retrying") == 0

    # The endpoint answered 500 three times: the delivery is being retried.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(attempt_count=3, last_status_code=500)
    assert sample(client, "webhook_deliveries_failing", state="retrying") == 1
    assert sample(client, "webhook_deliveries_failing", state="failed") == 0

    # Five days later: given up, and the endpoint disabled.
    WebhookDelivery.objects.filter(pk=delivery.pk).update(status=DeliveryStatus.FAILED, next_attempt_at=None)
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(status=EndpointStatus.DISABLED, disabled_reason="failing")

    assert sample(client, "webhook_deliveries_failing", state="retrying") == 0
    assert sample(client, "webhook_deliveries_failing", state="failed") == 1
    assert sample(client, "webhook_endpoints_disabled", reason="failing") == 1
    assert sample(client, "webhook_endpoints_disabled", reason="gone") == 0


def test_a_notification_with_a_forged_signature_is_counted_by_provider_and_reason(client):
    labels = {"provider": "getnet", "reason": "invalid_signature"}
    before = counted(client, "provider_notifications_refused_total", **labels)

    response = client.post(
        "/webhooks/providers/getnet/",
        b'{"event_id": "evt_1"}',
        content_type="application/json",
        HTTP_X_GETNET_TIMESTAMP=str(int(time.time())),
        HTTP_X_GETNET_SIGNATURE="sha256=" + "0" * 64,
    )

    assert response.status_code in (400, 401), response.content
    assert counted(client, "provider_notifications_refused_total", **labels) == before + 1


def test_the_nightly_run_shows_its_open_cases_and_when_it_completed(client, traffic, settlement_faults, today):  # noqa: F811
    pay = traffic("cielo")
    short = pay.captured(12_000)
    missing = pay.captured(11_000)
    pay.captured(10_000)
    settlement_faults.set("cielo", today, missing=[missing["id"]], amount_mismatch=[short["id"]])
    assert sample(client, "reconciliation_last_completed_run_timestamp_seconds", provider="cielo") is None

    before = time.time()
    reconcile_provider.apply(args=["cielo"], kwargs={"business_date": today.isoformat()}).get()

    # Our two cases, and any the session's sandbox reports of other tests' payments (unknown to us).
    cases = Discrepancy.objects.filter(status="open", run__provider="cielo", currency="BRL")
    assert {case.payment_id for case in cases} >= {short["id"], missing["id"]}
    assert sample(client, "reconciliation_cases_open", provider="cielo", currency="BRL") == len(cases)
    amount = sample(client, "reconciliation_cases_open_amount", provider="cielo", currency="BRL")
    assert amount == sum(abs(case.amount) for case in cases) >= 11_000
    completed = sample(client, "reconciliation_last_completed_run_timestamp_seconds", provider="cielo")
    assert before - 5 <= completed <= time.time() + 5
    assert sample(client, "reconciliation_last_completed_run_timestamp_seconds", provider="rede") is None


def test_a_failed_ledger_verify_shows_failed_with_its_problems_until_a_run_passes(api, client):
    captured_payment(api)
    assert sample(client, "ledger_verify_last_run_ok") is None  # never run: nothing to show

    assert verify_ledger.apply().get() == 0
    assert sample(client, "ledger_verify_last_run_ok") == 1
    passed_at = sample(client, "ledger_verify_last_success_timestamp_seconds")

    account = Account.objects.filter(balance__gt=0).first()
    Account.objects.filter(pk=account.pk).update(balance=account.balance + 1)  # no posting explains it
    with pytest.raises(CommandError):
        call_command("ledger_verify")

    assert sample(client, "ledger_verify_last_run_ok") == 0
    assert sample(client, "ledger_verify_last_run_problems") >= 1
    assert sample(client, "ledger_verify_last_run_timestamp_seconds") >= passed_at
    assert sample(client, "ledger_verify_last_success_timestamp_seconds") == passed_at
