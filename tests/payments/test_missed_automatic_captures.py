"""A payment that captures automatically must not stay authorized because its capture never
happened: the process died between authorizing and capturing, or the capture never reached the
provider. The sweep (payments.tasks.capture_missed_automatic_captures) captures it, once."""

import pytest

from events.models import DomainEvent
from ledger.models import JournalEntry
from payments import services, tasks
from payments.models import OperationStatus, Payment, ProviderOperation
from providers.registry import reset_providers
from tests.payments.helpers import authorize, create_payment

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def sweep_at_once(settings):
    settings.AUTOMATIC_CAPTURE_RETRY_SECONDS = 0


def _captures(payment_id: str) -> list[str]:
    return list(
        ProviderOperation.objects.filter(payment_id=payment_id, kind="capture")
        .order_by("created_at")
        .values_list("status", flat=True)
    )


def _event_types(payment_id: str) -> list[str]:
    return list(DomainEvent.objects.filter(aggregate_id=payment_id).order_by("sequence").values_list("type", flat=True))


def _authorized_but_not_captured(api, monkeypatch) -> str:
    """Authorizes a payment with automatic capture, the process dying right after the
    authorization committed (before the capture was even recorded)."""
    payment = create_payment(api, amount=7_000)

    def die(**kwargs):
        raise RuntimeError("worker killed")

    with monkeypatch.context() as patch:
        patch.setattr(services, "payment_capture", die)
        assert authorize(api, payment["id"]).status_code == 500
    stored = Payment.objects.get(pk=payment["id"])
    assert (stored.status, stored.capture_method, _captures(stored.id)) == ("authorized", "automatic", [])
    return payment["id"]


def test_a_payment_left_authorized_by_a_crash_is_captured_once_by_the_sweep(api, monkeypatch, sweep_at_once):
    payment_id = _authorized_but_not_captured(api, monkeypatch)

    assert tasks.capture_missed_automatic_captures() == 1
    assert tasks.capture_missed_automatic_captures() == 0  # and never again

    stored = Payment.objects.get(pk=payment_id)
    assert (stored.status, stored.amount_captured) == ("captured", 7_000)
    assert _captures(payment_id) == ["succeeded"]
    assert _event_types(payment_id).count("payment.captured") == 1
    assert JournalEntry.objects.filter(reference=f"payment:{payment_id}:capture").count() == 1


def test_the_sweep_leaves_a_payment_alone_while_it_may_still_be_capturing(api, monkeypatch, settings):
    payment_id = _authorized_but_not_captured(api, monkeypatch)
    settings.AUTOMATIC_CAPTURE_RETRY_SECONDS = 3600  # it changed a moment ago

    assert tasks.capture_missed_automatic_captures() == 0
    assert Payment.objects.get(pk=payment_id).status == "authorized"


def test_manual_capture_payments_are_never_captured_by_the_sweep(api, sweep_at_once):
    payment = create_payment(api, capture_method="manual")
    authorize(api, payment["id"])

    assert tasks.capture_missed_automatic_captures() == 0
    assert Payment.objects.get(pk=payment["id"]).status == "authorized"


def test_a_capture_that_never_reached_the_provider_is_tried_again(api, monkeypatch, settings, sweep_at_once):
    payment_id = _authorized_but_not_captured(api, monkeypatch)
    provider = Payment.objects.get(pk=payment_id).provider
    reachable = settings.PROVIDERS

    # The provider cannot be reached: nothing is sent, the capture fails at once.
    settings.PROVIDERS = {**reachable, provider: {**reachable[provider], "base_url": "http://127.0.0.1:9/nothing"}}
    reset_providers()
    assert tasks.capture_missed_automatic_captures() == 0
    assert _captures(payment_id) == ["failed"]
    assert Payment.objects.get(pk=payment_id).status == "authorized"

    # Back online: the next sweep captures it.
    settings.PROVIDERS = reachable
    reset_providers()
    assert tasks.capture_missed_automatic_captures() == 1

    assert Payment.objects.get(pk=payment_id).status == "captured"
    assert _captures(payment_id) == ["failed", "succeeded"]


def test_attempts_are_bounded(api, monkeypatch, settings, sweep_at_once):
    payment_id = _authorized_but_not_captured(api, monkeypatch)
    settings.AUTOMATIC_CAPTURE_MAX_ATTEMPTS = 2
    payment = Payment.objects.get(pk=payment_id)
    for attempt in range(2):  # two captures the provider declined
        ProviderOperation.objects.create(
            payment=payment,
            kind="capture",
            provider=payment.provider,
            amount=payment.amount,
            reference=f"cap_declined_{attempt}_{payment_id}",
            status=OperationStatus.FAILED,
            result_code="capture_declined",
        )

    assert tasks.capture_missed_automatic_captures() == 0
    assert Payment.objects.get(pk=payment_id).status == "authorized"
