"""Disputes: opened by the provider's notification, answered by the merchant (API) or an
operator (admin), decided by the provider's next notification; money moves on the ledger."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Permission, User
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from ledger.selectors import account_get
from ledger.verification import verify
from payments import disputes, tasks
from payments.locks import lock_payment
from payments.models import Dispute, Payment
from sandbox.faults import Faults
from tests.factories import PaymentFactory
from tests.payments.helpers import assert_problem, create_payment, get, post, refund
from tests.webhooks.helpers import deliver, event_types, recorded

DISPUTE_FIELDS = {
    "id",
    "object",
    "payment",
    "amount",
    "currency",
    "status",
    "reason",
    "evidence",
    "evidence_due_by",
    "response",
    "responded_at",
    "response_delivery",
    "provider",
    "created_at",
    "updated_at",
}


def _captured_chargeback_payment(api, provider: str, amount: int = 12_000) -> dict:
    payment = create_payment(
        api, provider=provider, amount=amount, payment_method={"type": "card", "token": "tok_chargeback"}
    )
    assert post(api, f"/payments/{payment['id']}/authorize").json()["status"] == "captured"
    return payment


def _dispute_opened(api, client, recorder, payment: dict) -> dict:
    """The cardholder disputes the payment: the provider's notification is delivered, and the
    dispute returned as the API shows it."""
    assert deliver(client, recorded(recorder, payment["id"], "dispute_opened")).status_code == 200
    [dispute] = get(api, "/disputes", {"payment": payment["id"]}).json()["data"]
    return dispute


def _disputed_payment(api, client, recorder, provider: str) -> tuple[dict, dict]:
    payment = _captured_chargeback_payment(api, provider)
    return payment, _dispute_opened(api, client, recorder, payment)


def _payable(merchant_id: str) -> int:
    """What we owe the merchant, in BRL cents (a natural balance: positive = owed to it)."""
    return account_get(code=f"merchant:{merchant_id}:payable", currency="BRL").natural_balance


def _provider_dispute(sandbox, payment_id: str):
    return next(d for d in sandbox.notifier.disputes.all() if d.order_ref == payment_id)


@pytest.mark.django_db(transaction=True)
def test_a_dispute_takes_its_amount_from_the_merchant_and_blocks_refunds(api, client, recorder, merchant):
    for provider in ("cielo", "rede", "getnet"):
        payment = _captured_chargeback_payment(api, provider)
        owed = _payable(merchant.id)

        dispute = _dispute_opened(api, client, recorder, payment)

        assert set(dispute) == DISPUTE_FIELDS
        assert dispute["id"].startswith("dp_") and dispute["object"] == "dispute"
        assert (dispute["payment"], dispute["amount"], dispute["currency"]) == (payment["id"], 12_000, "BRL")
        assert (dispute["status"], dispute["provider"], dispute["response"]) == ("needs_response", provider, None)
        assert dispute["reason"] in {"fraudulent", "product_not_received", "product_unacceptable", "duplicate"}
        assert dispute["evidence_due_by"] > dispute["created_at"]
        assert get(api, f"/disputes/{dispute['id']}").json() == dispute
        assert _payable(merchant.id) == owed - 12_000
        assert event_types(payment["id"])[-1] == "dispute.opened"
        assert_problem(refund(api, payment["id"], 1_000), 409, "payment_disputed")
    assert verify() == []


@pytest.mark.django_db(transaction=True)
def test_evidence_puts_it_under_review_and_a_won_dispute_gives_the_money_back(
    api, client, recorder, merchant, provider_sandbox
):
    payment, dispute = _disputed_payment(api, client, recorder, "getnet")
    owed_while_disputed = _payable(merchant.id)

    response = post(
        api, f"/disputes/{dispute['id']}/evidence", {"evidence": "Delivered on 3 May, signed by the buyer."}
    )

    assert response.status_code == 200, response.content
    answered = response.json()
    assert (answered["status"], answered["response"], answered["response_delivery"]) == (
        "under_review",
        "evidence",
        "delivered",
    )
    assert answered["evidence"] == "Delivered on 3 May, signed by the buyer."
    at_provider = _provider_dispute(provider_sandbox, payment["id"])
    assert (at_provider.answer, at_provider.evidence) == ("evidence", "Delivered on 3 May, signed by the buyer.")
    assert event_types(payment["id"])[-1] == "dispute.updated"

    provider_sandbox.notifier.disputes.decide()  # the provider rules: contested, so won
    assert deliver(client, recorded(recorder, payment["id"], "dispute_won")).status_code == 200

    won = get(api, f"/disputes/{dispute['id']}").json()
    assert won["status"] == "won"
    assert get(api, f"/payments/{payment['id']}").json()["status"] == "captured"
    assert _payable(merchant.id) == owed_while_disputed + 12_000
    assert event_types(payment["id"])[-2:] == ["dispute.updated", "dispute.won"]
    assert refund(api, payment["id"], 1_000).status_code == 201  # no longer disputed
    assert verify() == []


@pytest.mark.django_db(transaction=True)
def test_accepting_loses_it_charges_the_payment_back_and_tells_the_provider(
    api, client, recorder, merchant, provider_sandbox
):
    payment, dispute = _disputed_payment(api, client, recorder, "rede")
    owed_while_disputed = _payable(merchant.id)

    response = post(api, f"/disputes/{dispute['id']}/accept")

    assert response.status_code == 200, response.content
    assert (response.json()["status"], response.json()["response"]) == ("lost", "acceptance")
    assert response.json()["response_delivery"] == "delivered"
    assert get(api, f"/payments/{payment['id']}").json()["status"] == "charged_back"
    assert _provider_dispute(provider_sandbox, payment["id"]).status == "lost"
    assert event_types(payment["id"])[-2:] == ["dispute.lost", "payment.charged_back"]
    # The provider's own word comes afterwards and changes nothing.
    assert deliver(client, recorded(recorder, payment["id"], "dispute_lost")).status_code == 200
    assert event_types(payment["id"]).count("payment.charged_back") == 1
    assert _payable(merchant.id) == owed_while_disputed  # the money went with the dispute's opening
    assert_problem(
        post(api, f"/disputes/{dispute['id']}/evidence", {"evidence": "too late"}), 409, "invalid_state_transition"
    )
    assert_problem(post(api, f"/disputes/{dispute['id']}/accept"), 409, "invalid_state_transition")
    assert verify() == []


@pytest.mark.django_db(transaction=True)
def test_an_answer_the_provider_could_not_take_is_sent_again_later(api, client, recorder, provider_sandbox):
    payment, dispute = _disputed_payment(api, client, recorder, "cielo")
    provider_sandbox.faults.set("cielo", Faults(outage=True))

    answered = post(api, f"/disputes/{dispute['id']}/evidence", {"evidence": "Tracking 123"}).json()

    assert (answered["status"], answered["response_delivery"]) == ("under_review", "pending")
    assert _provider_dispute(provider_sandbox, payment["id"]).answer == ""
    provider_sandbox.faults.clear()
    with connection.cursor() as cursor:
        cursor.execute("UPDATE payments_dispute SET response_next_attempt_at = now() - interval '1 second'")

    assert tasks.send_dispute_responses() == 1

    assert get(api, f"/disputes/{dispute['id']}").json()["response_delivery"] == "delivered"
    assert _provider_dispute(provider_sandbox, payment["id"]).answer == "evidence"
    assert tasks.send_dispute_responses() == 0


# --- the API around it, on disputes written directly ------------------------------------------------
def _dispute(merchant, *, provider="cielo", amount=5_000, due_in=timedelta(days=7), provider_id=None) -> Dispute:
    payment = PaymentFactory(merchant=merchant, captured=True, provider=provider, amount=amount)
    return disputes.dispute_open(
        payment=lock_payment(payment_id=payment.id),
        provider_dispute_id=provider_id or f"cb-{payment.id}",
        amount=amount,
        reason="fraudulent",
        reason_code="10.4",
        reason_message="Other Fraud - Card-Absent Environment",
        evidence_due_by=timezone.now() + due_in,
    )


@pytest.mark.django_db
def test_disputes_are_listed_newest_first_by_page_and_filtered(api, merchant, other_merchant):
    mine = [_dispute(merchant) for _ in range(3)]
    _dispute(other_merchant)
    Dispute.objects.filter(pk=mine[0].pk).update(status="won")

    first = get(api, "/disputes", {"limit": "2"}).json()
    second = get(api, "/disputes", {"limit": "2", "starting_after": first["next_cursor"]}).json()
    won = get(api, "/disputes", {"status": "won"}).json()
    of_payment = get(api, "/disputes", {"payment": mine[1].payment_id}).json()

    assert [d["id"] for d in first["data"] + second["data"]] == [d.id for d in reversed(mine)]
    assert (first["has_more"], second["has_more"]) == (True, False)
    assert [d["id"] for d in won["data"]] == [mine[0].id]
    assert [d["id"] for d in of_payment["data"]] == [mine[1].id]
    assert_problem(get(api, "/disputes", {"status": "open"}), 400, "validation_error")
    assert_problem(get(api, "/disputes", {"starting_after": "pay_123"}), 400)


@pytest.mark.django_db
def test_another_merchants_dispute_is_not_found(api, other_merchant):
    theirs = _dispute(other_merchant)

    assert_problem(get(api, f"/disputes/{theirs.id}"), 404)
    assert_problem(post(api, f"/disputes/{theirs.id}/evidence", {"evidence": "x"}), 404)
    assert_problem(post(api, f"/disputes/{theirs.id}/accept"), 404)
    assert Dispute.objects.get(pk=theirs.pk).status == "needs_response"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body",
    [
        {},
        {"evidence": ""},
        {"evidence": "   "},
        {"evidence": 12},
        {"evidence": "x" * 20_001},
        {"evidence": "x", "extra": 1},
    ],
)
def test_evidence_must_be_some_text(api, merchant, body):
    dispute = _dispute(merchant)

    assert_problem(post(api, f"/disputes/{dispute.id}/evidence", body), 400)
    assert Dispute.objects.get(pk=dispute.pk).status == "needs_response"


@pytest.mark.django_db
def test_a_dispute_past_its_due_date_can_no_longer_be_answered(api, merchant):
    dispute = _dispute(merchant, due_in=-timedelta(minutes=1))

    assert_problem(post(api, f"/disputes/{dispute.id}/evidence", {"evidence": "late"}), 409, "evidence_due_date_passed")
    assert_problem(post(api, f"/disputes/{dispute.id}/accept"), 409, "evidence_due_date_passed")
    assert Dispute.objects.get(pk=dispute.pk).status == "needs_response"


@pytest.mark.django_db
def test_posts_need_an_idempotency_key(api, merchant):
    dispute = _dispute(merchant)

    response = api.post(f"/api/v1/disputes/{dispute.id}/accept", {}, format="json")

    assert_problem(response, 400, "idempotency_key_required")


@pytest.mark.django_db
def test_the_database_refuses_a_second_dispute_of_a_payment_or_an_unknown_status(merchant):
    from django.db import IntegrityError, transaction

    dispute = _dispute(merchant)
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispute.objects.create(
            merchant=merchant,
            payment_id=dispute.payment_id,
            provider="cielo",
            provider_dispute_id="other",
            amount=1,
            currency="BRL",
        )
    with pytest.raises(IntegrityError), transaction.atomic():
        Dispute.objects.filter(pk=dispute.pk).update(status="under_review")  # under review needs evidence


# --- admin --------------------------------------------------------------------------------------------
@pytest.mark.django_db(transaction=True)
def test_operators_answer_disputes_from_the_admin(api, client, recorder, admin_client, provider_sandbox):
    _, to_contest = _disputed_payment(api, client, recorder, "cielo")
    to_accept_payment, to_accept = _disputed_payment(api, client, recorder, "getnet")
    changelist = reverse("admin:payments_dispute_changelist")

    listing = admin_client.get(changelist, {"status__exact": "needs_response"})
    overdue = admin_client.get(changelist, {"due": "overdue"})
    form = admin_client.post(changelist, {"action": "submit_evidence", "_selected_action": [to_contest["id"]]})
    submitted = admin_client.post(
        changelist,
        {
            "action": "submit_evidence",
            "_selected_action": [to_contest["id"]],
            "apply": "1",
            "evidence": "Proof of delivery",
        },
        follow=True,
    )
    accepted = admin_client.post(changelist, {"action": "accept", "_selected_action": [to_accept["id"]]}, follow=True)

    assert listing.status_code == 200
    assert to_contest["id"] in listing.content.decode() and to_accept["id"] in listing.content.decode()
    assert "Evidence due by" in listing.content.decode()
    assert to_contest["id"] not in overdue.content.decode()  # due in a week
    assert form.status_code == 200 and 'name="evidence"' in form.content.decode()
    assert "evidence submitted" in submitted.content.decode()
    contested = Dispute.objects.get(pk=to_contest["id"])
    assert (contested.status, contested.evidence, contested.response_sent_at is not None) == (
        "under_review",
        "Proof of delivery",
        True,
    )
    assert "accepted" in accepted.content.decode()
    assert Dispute.objects.get(pk=to_accept["id"]).status == "lost"
    assert Payment.objects.get(pk=to_accept_payment["id"]).status == "charged_back"
    assert admin_client.get(reverse("admin:payments_dispute_change", args=[to_contest["id"]])).status_code == 200
    assert admin_client.post(reverse("admin:payments_dispute_delete", args=[to_contest["id"]])).status_code == 403
    assert verify() == []


@pytest.mark.django_db
def test_only_operators_allowed_to_answer_disputes_get_the_actions(client, merchant):
    dispute = _dispute(merchant)
    reader = User.objects.create_user("reader", password="pw", is_staff=True)
    reader.user_permissions.add(Permission.objects.get(codename="view_dispute"))
    client.force_login(reader)
    changelist = reverse("admin:payments_dispute_changelist")

    page = client.get(changelist)
    refused = client.post(changelist, {"action": "accept", "_selected_action": [dispute.id]})

    assert page.status_code == 200 and dispute.id in page.content.decode()
    assert 'value="accept"' not in page.content.decode()
    assert refused.status_code in (200, 302)
    assert Dispute.objects.get(pk=dispute.pk).status == "needs_response"
    answerer = User.objects.create_user("answerer", password="pw", is_staff=True)
    answerer.user_permissions.add(*Permission.objects.filter(codename__in=["view_dispute", "answer_dispute"]))
    client.force_login(answerer)
    assert 'value="accept"' in client.get(changelist).content.decode()
