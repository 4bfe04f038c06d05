"""Notifications arrive late, twice and in any order: whatever the order, a payment ends in the
same state, and no notification moves it backwards.

Each payment here lives a whole chargeback life at its provider (authorized, captured, disputed,
decided) while our side lost the capture's answer (a timeout): so every one of its four
notifications matters to us, or must be recognised as stale. They are then delivered in each of
the 24 orders (for a won and for a lost dispute, across the three providers), and all of them
once more, backwards."""

import itertools
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connections
from django.test import Client

from ledger.models import JournalEntry
from ledger.verification import verify
from payments.models import Payment, ProviderOperation
from sandbox.faults import Faults
from tests.payments.helpers import authorized_payment, capture, client_for
from tests.webhooks.conftest import wait_until
from tests.webhooks.helpers import deliver, event_types, recorded
from webhooks.models import InboundNotification

KINDS = ("authorization", "capture", "dispute_opened", "dispute_decided")
ORDERS = list(itertools.permutations(KINDS))
PROVIDERS = ("cielo", "rede", "getnet")


def _in_threads(function, items, workers: int = 12) -> list:
    def run(item):
        try:
            return function(item)
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(run, items))


def _state(payment_id: str) -> dict:
    """What a merchant and an accountant see of a payment, without its ids."""
    payment = Payment.objects.get(pk=payment_id)
    dispute = payment.disputes.get()
    entries = JournalEntry.objects.filter(metadata__payment_id=payment_id).prefetch_related("postings__account")
    return {
        "status": payment.status,
        "captured": payment.amount_captured,
        "dispute": (dispute.status, dispute.amount),
        "events": event_types(payment_id),
        # Each entry, with what it did to the merchant's payable (positive: taken from the merchant).
        "ledger": sorted(
            (e.entry_type, sum(p.amount for p in e.postings.all() if p.account.code.startswith("merchant:")))
            for e in entries
        ),
        "operations": sorted(ProviderOperation.objects.filter(payment=payment).values_list("kind", "status")),
    }


@pytest.mark.django_db(transaction=True)
def test_every_order_of_a_payments_notifications_ends_in_the_same_state(
    api_key, recorder, provider_sandbox, breakers_never_trip
):
    cases = [(order, outcome) for outcome in ("won", "lost") for order in ORDERS]
    payments = _in_threads(
        lambda i: authorized_payment(
            client_for(api_key),
            provider=PROVIDERS[i % 3],
            amount=8_000,
            payment_method={"type": "card", "token": "tok_chargeback"},
        ),
        range(len(cases)),
    )
    # The provider captures each of them, but every answer comes too late: our captures stay open.
    provider_sandbox.faults.set("all", Faults(timeout_rate=1.0))
    _in_threads(lambda payment: capture(client_for(api_key), payment["id"]), payments)
    provider_sandbox.faults.clear()
    assert set(Payment.objects.values_list("status", flat=True)) == {"authorized"}
    # The cardholders dispute them; the provider decides.
    disputes = provider_sandbox.notifier.disputes

    ours = {payment["id"] for payment in payments}

    def all_open() -> dict | None:
        found = [d for d in disputes.all() if d.order_ref in ours]
        if len(found) == len(cases) and all(d.status == "open" for d in found):
            return {d.order_ref: d for d in found}
        return None

    opened = wait_until(all_open, what="every dispute to open")
    for payment, (_, outcome) in zip(payments, cases, strict=True):
        disputes.decide(dispute_id=opened[payment["id"]].id, outcome=outcome)

    def deliver_in_order(case) -> None:
        payment, (order, outcome) = case
        kinds = [f"dispute_{outcome}" if kind == "dispute_decided" else kind for kind in order]
        notifications = [recorded(recorder, payment["id"], kind) for kind in kinds]
        provider = Client()
        for notification in [*notifications, *reversed(notifications)]:
            assert deliver(provider, notification).status_code == 200

    # Payments are independent of each other: their notifications are delivered side by side.
    _in_threads(deliver_in_order, list(zip(payments, cases, strict=True)), workers=6)

    states = {
        (order, outcome): _state(payment["id"]) for payment, (order, outcome) in zip(payments, cases, strict=True)
    }
    for outcome, charged_back_events in (
        ("won", ("dispute.opened", "dispute.won")),
        ("lost", ("dispute.opened", "dispute.lost", "payment.charged_back")),
    ):
        first = states[(ORDERS[0], outcome)]
        for order in ORDERS:
            assert states[(order, outcome)] == first, f"{outcome}, delivered as {order}"
        assert first["status"] == ("captured" if outcome == "won" else "charged_back")
        assert (first["captured"], first["dispute"]) == (8_000, (outcome, 8_000))
        assert first["events"] == [
            "payment.created",
            "payment.authorization_requested",
            "payment.authorized",
            "payment.captured",
            *charged_back_events,
        ]
        merchant = dict(first["ledger"])
        assert merchant["dispute.opened"] == 8_000  # taken from the merchant when it opened
        assert merchant.get("dispute.won") == (-8_000 if outcome == "won" else None)  # and given back
        assert first["operations"] == [("authorize", "succeeded"), ("capture", "succeeded")]
    accepted = InboundNotification.objects.filter(verdict="accepted")
    assert accepted.count() == 4 * len(cases)
    assert set(accepted.values_list("status", flat=True)) <= {"applied", "ignored"}
    assert InboundNotification.objects.filter(verdict="duplicate").count() == 4 * len(cases)
    assert verify() == []
