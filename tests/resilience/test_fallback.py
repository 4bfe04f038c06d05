"""A provider down, through the API: payments that name no provider fall back to another one,
each attempt recorded on the payment; the circuit opens, later payments skip the provider without
a request; after the cool-down and the provider's recovery, one trial call closes the circuit."""

import pytest
from django.db import connection
from django.db.models.functions import Now

from ledger.verification import verify
from payments import tasks
from payments.models import Payment, ProviderOperation
from providers.registry import get_provider, reset_providers
from tests.payments.helpers import authorize, create_payment

from .conftest import COOLDOWN_SECONDS, THRESHOLD

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("breaker_settings")]

ATTEMPTS = 3  # PROVIDER_RETRY's default


def pay(api, **fields) -> dict:
    """A new payment (automatic capture), authorized through the API; its body afterwards."""
    payment = create_payment(api, **fields)
    response = authorize(api, payment["id"])
    assert response.status_code == 200, response.content
    return response.json()


def attempts(payment_id: str) -> list[tuple[str, str, str]]:
    """The payment's authorization attempts, oldest first: (provider, status, result code)."""
    rows = ProviderOperation.objects.filter(payment_id=payment_id, kind="authorize").order_by("created_at", "id")
    return [(row.provider, row.status, row.result_code) for row in rows]


def make_status_checks_due() -> None:
    """Status polling runs on a schedule; instead of waiting for it, make every check due now."""
    with connection.cursor() as cursor:
        cursor.execute(
            "UPDATE payments_provideroperation SET next_check_at = now() - interval '1 second' "
            "WHERE status IN ('pending', 'unknown')"
        )


def circuit_state(provider: str) -> str:
    return get_provider(provider).circuit.snapshot().state


def test_with_cielo_unreachable_payments_go_through_rede_and_the_open_circuit_skips_cielo(
    api, client, settings, closed_port, outgoing
):
    settings.PROVIDERS["cielo"]["base_url"] = f"http://127.0.0.1:{closed_port}/cielo"
    reset_providers()

    first = [pay(api) for _ in range(THRESHOLD)]

    for body in first:
        assert (body["status"], body["provider"]) == ("captured", "rede")
        assert [(p, s) for p, s, _ in attempts(body["id"])] == [("cielo", "failed"), ("rede", "succeeded")]
        assert attempts(body["id"])[0][2] == "provider_error"
    assert outgoing.count("cielo") == THRESHOLD * ATTEMPTS  # each attempt's connection retried, never sent
    assert circuit_state("cielo") == "open"

    later = pay(api)

    assert (later["status"], later["provider"]) == ("captured", "rede")
    assert [(p, s) for p, s, _ in attempts(later["id"])] == [("rede", "succeeded")]
    assert outgoing.count("cielo") == THRESHOLD * ATTEMPTS  # cielo not even tried
    assert verify() == []
    metrics = client.get("/metrics").text
    assert 'provider_circuit_state{provider="cielo"} 2.0' in metrics
    assert 'provider_circuit_opens_total{provider="cielo"}' in metrics


def test_with_cielo_in_outage_its_payments_wait_for_the_truth_and_the_next_ones_go_elsewhere(
    api, sandbox_providers, outgoing, clock
):
    sandbox_providers.faults.set_from_request({"provider": "cielo", "outage": True})

    # A 503 may come after the provider acted: those payments wait for status polling.
    stuck = [pay(api) for _ in range(THRESHOLD)]

    for body in stuck:
        assert (body["status"], body["provider"]) == ("authorization_requested", "cielo")
        assert attempts(body["id"]) == [("cielo", "unknown", "503")]
    assert circuit_state("cielo") == "open"
    sent_to_cielo = outgoing.count("cielo")

    later = pay(api)

    assert (later["status"], later["provider"]) == ("captured", "rede")
    assert [(p, s) for p, s, _ in attempts(later["id"])] == [("rede", "succeeded")]

    # While the circuit is open the janitor does not ask cielo: it puts the checks off.
    make_status_checks_due()
    tasks.resolve_pending_provider_operations()

    assert outgoing.count("cielo") == sent_to_cielo
    for operation in ProviderOperation.objects.filter(payment_id__in=[body["id"] for body in stuck]):
        assert (operation.status, operation.status_checks) == ("unknown", 1)
        assert ProviderOperation.objects.filter(pk=operation.pk, next_check_at__gt=Now()).exists()

    # Cielo recovers; after the cool-down the first status query is the trial, and it closes the circuit.
    sandbox_providers.faults.clear()
    clock.advance(COOLDOWN_SECONDS)
    make_status_checks_due()
    tasks.resolve_pending_provider_operations()

    assert circuit_state("cielo") == "closed"
    for body in stuck:  # the outage's 503s were answered before anything was done
        payment = Payment.objects.get(pk=body["id"])
        assert (payment.status, payment.failure_code) == ("failed", "provider_unavailable")
    assert pay(api)["provider"] == "cielo"
    assert verify() == []


def test_after_the_cooldown_the_next_payment_is_the_trial_that_closes_the_circuit(api, sandbox_providers, clock):
    sandbox_providers.faults.set_from_request({"provider": "cielo", "outage": True})
    for _ in range(THRESHOLD):
        pay(api)
    sandbox_providers.faults.clear()
    assert pay(api)["provider"] == "rede"  # still open

    clock.advance(COOLDOWN_SECONDS)
    trial = pay(api)

    assert (trial["status"], trial["provider"]) == ("captured", "cielo")
    assert circuit_state("cielo") == "closed"


def test_a_failed_trial_keeps_the_payment_safe_and_the_circuit_open(api, sandbox_providers, clock):
    sandbox_providers.faults.set_from_request({"provider": "cielo", "outage": True})
    for _ in range(THRESHOLD):
        pay(api)

    clock.advance(COOLDOWN_SECONDS)
    trial = pay(api)  # cielo is still down: the trial's 503 leaves this payment's outcome unknown too

    assert (trial["status"], trial["provider"]) == ("authorization_requested", "cielo")
    assert circuit_state("cielo") == "open"
    assert pay(api)["provider"] == "rede"


def test_a_payment_that_names_a_provider_whose_circuit_is_open_fails_at_once(api, sandbox_providers, outgoing):
    sandbox_providers.faults.set_from_request({"provider": "cielo", "outage": True})
    for _ in range(THRESHOLD):
        pay(api, provider="cielo")
    sent_to_cielo = outgoing.count("cielo")

    body = pay(api, provider="cielo")

    assert (body["status"], body["provider"], body["failure_code"]) == ("failed", "cielo", "provider_unavailable")
    assert attempts(body["id"]) == [("cielo", "failed", "circuit_open")]
    assert outgoing.count("cielo") == sent_to_cielo


def test_when_every_circuit_is_open_each_provider_is_still_tried_and_the_payment_fails_cleanly(api, sandbox_providers):
    sandbox_providers.faults.set_from_request({"outage": True})
    for provider in ("cielo", "rede", "getnet"):
        for _ in range(THRESHOLD):
            pay(api, provider=provider)
    sandbox_providers.faults.clear()

    body = pay(api)

    assert (body["status"], body["failure_code"]) == ("failed", "provider_unavailable")
    assert attempts(body["id"]) == [
        ("cielo", "failed", "circuit_open"),
        ("rede", "failed", "circuit_open"),
        ("getnet", "failed", "circuit_open"),
    ]
    assert verify() == []
