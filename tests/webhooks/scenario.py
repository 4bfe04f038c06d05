"""The end-to-end scenario: hundreds of payments through the three sandboxes while they fail,
answer late, approve asynchronously, and notify late, twice and out of order; disputes opened,
answered and decided. Merchants act the way a careful integration does (retrying what failed,
acting once a webhook says they can), and the system must converge: every payment in a final
state that agrees with its test token, with what the merchant asked for and with the provider's
own records, every notification applied once, and the books balanced.

Used by tests/webhooks/test_scenario.py (and, at a larger scale, by `make scenario`)."""

import json
import random
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from django.db import connection, connections
from rest_framework.test import APIClient

from ledger.verification import verify
from payments import tasks as payment_tasks
from payments.models import OPEN_OPERATION_STATUSES, Dispute, Payment, ProviderOperation
from sandbox import Sandbox
from sandbox.faults import Faults
from tests.payments.helpers import get, post
from webhooks import tasks as webhook_tasks
from webhooks.models import InboundNotification

PROVIDERS = ("cielo", "rede", "getnet")
AMOUNT = 10_000


@dataclass(frozen=True)
class Recipe:
    """What a merchant does with one payment, and what it must come to."""

    name: str
    token: str
    capture_method: str = "automatic"
    capture: int | None = None  # manual payments: the amount to capture (0: all)
    cancel: bool = False
    refund: int | None = None  # the amount to refund once captured (0: all)
    dispute_answer: str = ""  # tok_chargeback: "evidence", "acceptance", or "" (no answer)
    status: str = "captured"
    captured: int = AMOUNT
    refunded: int = 0
    failure_code: str = ""
    dispute: str = ""  # the dispute's final status


RECIPES = (
    Recipe("approve", "tok_approve"),
    Recipe("approve, refund part", "tok_approve", refund=3_000, refunded=3_000),
    Recipe("approve, refund all", "tok_approve", refund=0, status="refunded", refunded=AMOUNT),
    Recipe("approve, capture later", "tok_approve", "manual", capture=0),
    Recipe("approve, capture part", "tok_approve", "manual", capture=6_000, captured=6_000),
    Recipe("approve, cancel", "tok_approve", "manual", cancel=True, status="canceled", captured=0),
    Recipe("decline", "tok_decline", status="failed", captured=0, failure_code="card_declined"),
    Recipe("no funds", "tok_insufficient_funds", status="failed", captured=0, failure_code="insufficient_funds"),
    Recipe("async", "tok_async"),
    Recipe("async, capture later", "tok_async", "manual", capture=0),
    Recipe("timeout", "tok_timeout"),
    Recipe("timeout, cancel", "tok_timeout", "manual", cancel=True, status="canceled", captured=0),
    Recipe("chargeback, contested", "tok_chargeback", dispute_answer="evidence", dispute="won"),
    Recipe(
        "chargeback, accepted", "tok_chargeback", dispute_answer="acceptance", status="charged_back", dispute="lost"
    ),
    Recipe("chargeback, unanswered", "tok_chargeback", status="charged_back", dispute="lost"),
)


@dataclass
class Merchant:
    """One payment as its merchant tracks it."""

    recipe: Recipe
    provider: str
    payment_id: str = ""
    refund_ids: list[str] = field(default_factory=list)
    answered: bool = False
    done: bool = False  # nothing left for the merchant to do


class Scenario:
    def __init__(self, *, api_key: str, sandbox: Sandbox, webhook_url: str, payments: int, seed: int = 11):
        self.api_key = api_key
        self.sandbox = sandbox
        self.webhook_url = webhook_url
        self.merchants = [
            Merchant(RECIPES[i % len(RECIPES)], PROVIDERS[(i // len(RECIPES)) % len(PROVIDERS)])
            for i in range(payments)
        ]
        self.random = random.Random(seed)
        self.figures: Counter = Counter()

    # --- running it ---------------------------------------------------------------------------------
    def run(self, *, deadline_seconds: float) -> dict:
        started = time.monotonic()
        deadline = started + deadline_seconds
        self.sandbox.notifier.configure(
            {
                "webhook_url": self.webhook_url,
                "webhook_delay_seconds": 0.05,
                "webhook_jitter_seconds": 0.3,
                "webhook_duplicate_rate": 0.3,
                "webhook_reorder_rate": 0.2,
                "webhook_reorder_delay_seconds": 0.6,
                "chargeback_delay_seconds": 0.2,
                "dispute_decision_delay_seconds": 3_600,  # decided below, once merchants had their say
            }
        )
        # The providers misbehave while the payments are made: some calls fail before doing
        # anything, some are done but answered too late.
        self.sandbox.faults.set("all", Faults(error_rate=0.04, timeout_rate=0.06))
        self._in_threads(self._start)
        self.sandbox.faults.clear()
        rounds = 0
        while True:  # merchants react to what they see until there is nothing left to do
            self._drain(deadline)
            acted = sum(self._in_threads(self._react))
            rounds += 1
            if not acted:
                if self._decide_disputes():  # the providers rule on the disputes merchants had their say on
                    continue
                break
            if time.monotonic() > deadline:
                raise AssertionError("the scenario did not settle in time")
        self.figures.update(seconds=round(time.monotonic() - started, 1), merchant_rounds=rounds)
        return dict(self.figures)

    def _ours(self, disputes) -> list:
        ours = {merchant.payment_id for merchant in self.merchants}
        return [dispute for dispute in disputes if dispute.order_ref in ours]

    def _decide_disputes(self) -> int:
        disputes = self.sandbox.notifier.disputes
        open_ = [dispute for dispute in self._ours(disputes.all()) if dispute.status == "open"]
        for dispute in open_:
            disputes.decide(provider=dispute.provider, dispute_id=dispute.id)
        return len(open_)

    def _in_threads(self, work) -> list:
        def run(merchant: Merchant):
            try:
                return work(merchant, APIClient(HTTP_AUTHORIZATION=f"Bearer {self.api_key}"))
            finally:
                connections.close_all()

        with ThreadPoolExecutor(max_workers=8) as pool:
            return list(pool.map(run, self.merchants))

    def _start(self, merchant: Merchant, api: APIClient) -> None:
        recipe = merchant.recipe
        body = {
            "amount": AMOUNT,
            "currency": "BRL",
            "capture_method": recipe.capture_method,
            "provider": merchant.provider,
            "payment_method": {"type": "card", "token": recipe.token},
            "reference": recipe.name,
        }
        created = post(api, "/payments", body)
        assert created.status_code == 201, created.content
        merchant.payment_id = created.json()["id"]
        answer = post(api, f"/payments/{merchant.payment_id}/authorize")
        self.figures[f"authorize answered {answer.status_code}"] += 1
        self._react(merchant, api)

    def _react(self, merchant: Merchant, api: APIClient) -> bool:
        """Does the next thing this payment's merchant wants done, if it can be done now. True
        when it asked for something."""
        recipe, payment_id = merchant.recipe, merchant.payment_id
        if merchant.done:
            return False
        payment = get(api, f"/payments/{payment_id}").json()
        status = payment["status"]
        if status in ("failed", "canceled", "refunded", "charged_back") or (
            status == "captured"
            and (recipe.refund is None or payment["amount_refunded"])
            and (not recipe.dispute_answer or merchant.answered)
        ):
            merchant.done = True
            return False
        if status == "authorized" and recipe.cancel:
            return self._ask(api, f"/payments/{payment_id}/cancel", {}, "cancel")
        if status == "authorized":  # manual, or an automatic capture that failed: capture it
            amount = {"amount": recipe.capture} if recipe.capture else {}
            return self._ask(api, f"/payments/{payment_id}/capture", amount, "capture")
        if status == "captured" and recipe.refund is not None and payment["amount_refunded"] == 0:
            statuses = [get(api, f"/refunds/{refund_id}").json()["status"] for refund_id in merchant.refund_ids]
            if "pending" in statuses or "succeeded" in statuses:
                return False
            response = post(api, f"/payments/{payment_id}/refunds", {"amount": recipe.refund} if recipe.refund else {})
            self.figures[f"refund answered {response.status_code}"] += 1
            if response.status_code == 201:
                merchant.refund_ids.append(response.json()["id"])
            return True
        if recipe.dispute_answer and not merchant.answered:
            disputes = get(api, "/disputes", {"payment": payment_id}).json()["data"]
            if disputes and disputes[0]["status"] == "needs_response":
                merchant.answered = True
                if recipe.dispute_answer == "evidence":
                    return self._ask(
                        api, f"/disputes/{disputes[0]['id']}/evidence", {"evidence": "Delivered."}, "evidence"
                    )
                return self._ask(api, f"/disputes/{disputes[0]['id']}/accept", {}, "accept")
        return False

    def _ask(self, api: APIClient, path: str, body: dict, what: str) -> bool:
        response = post(api, path, body)
        self.figures[f"{what} answered {response.status_code}"] += 1
        return response.status_code != 409  # 409: something is still under way; look again later

    def _drain(self, deadline: float) -> None:
        """Lets everything in flight finish: the providers' notifications delivered and applied,
        unknown outcomes resolved by status polling, answers to disputes delivered. What is
        scheduled for later (polling backoff, notification retries) is made due at once."""
        while True:
            outbox = self.sandbox.notifier.counts()
            busy = outbox["pending"] + outbox["sending"]
            # Disputes a cardholder is about to open count too: their notifications are coming.
            busy += sum(d.status == "scheduled" for d in self._ours(self.sandbox.notifier.disputes.all()))
            with connection.cursor() as cursor:
                cursor.execute(
                    "UPDATE payments_provideroperation SET next_check_at = now() WHERE status IN ('pending', 'unknown')"
                )
                busy += cursor.rowcount
                cursor.execute(
                    "UPDATE webhooks_inboundnotification SET next_attempt_at = now()"
                    " WHERE status IN ('pending', 'deferred')"
                )
                busy += cursor.rowcount
                cursor.execute(
                    "UPDATE payments_dispute SET response_next_attempt_at = now()"
                    " WHERE response <> '' AND response_sent_at IS NULL AND response_error = ''"
                )
                busy += cursor.rowcount
            if not busy:
                return
            payment_tasks.resolve_pending_provider_operations()
            webhook_tasks.retry_provider_notifications()
            payment_tasks.send_dispute_responses()
            if time.monotonic() > deadline:
                raise AssertionError(f"still busy at the deadline: {outbox}")
            time.sleep(0.05)

    # --- checking it --------------------------------------------------------------------------------
    def problems(self) -> list[str]:
        """Everything that is not as it must be; empty when the scenario ended well."""
        problems = [f"ledger: {problem}" for problem in verify()]
        truth = self._provider_records()
        for merchant in self.merchants:
            problems.extend(self._check_payment(merchant, truth.get((merchant.provider, merchant.payment_id))))
        problems.extend(self._check_notifications())
        return problems

    def _provider_records(self) -> dict:
        credentials = self.sandbox.settings.credentials
        merchants = {
            "cielo": credentials.cielo_merchant_id,
            "rede": credentials.rede_pv,
            "getnet": credentials.getnet_seller_id,
        }
        records = {}
        with self.sandbox.store.atomic() as db:
            for merchant in self.merchants:
                records[(merchant.provider, merchant.payment_id)] = db.transaction_by_order(
                    merchant.provider, merchants[merchant.provider], merchant.payment_id
                )
        return records

    def _check_payment(self, merchant: Merchant, at_provider) -> list[str]:
        recipe = merchant.recipe
        payment = Payment.objects.get(pk=merchant.payment_id)
        where = f"{payment.id} ({recipe.name}, {merchant.provider})"
        if at_provider is None:
            # An authorization refused with a 5xx before the provider did anything: it failed for good.
            self.figures["never reached the provider"] += 1
            expected = ("failed", 0, 0, "provider_unavailable")
        else:
            expected = (recipe.status, recipe.captured, recipe.refunded, recipe.failure_code)
        found = (payment.status, payment.amount_captured, payment.amount_refunded, payment.failure_code)
        problems = [] if found == expected else [f"{where}: {found}, expected {expected}"]
        if at_provider is not None and (at_provider.captured_amount, at_provider.refunded_amount) != found[1:3]:
            problems.append(f"{where}: the provider holds {at_provider.captured_amount} captured")
        if ProviderOperation.objects.filter(payment=payment, status__in=OPEN_OPERATION_STATUSES).exists():
            problems.append(f"{where}: an operation is still open")
        dispute = Dispute.objects.filter(payment=payment).first()
        if (dispute.status if dispute else "") != (recipe.dispute if at_provider is not None else ""):
            problems.append(f"{where}: dispute {dispute and dispute.status}, expected {recipe.dispute}")
        return problems

    def _check_notifications(self) -> list[str]:
        problems = []
        ours = {merchant.payment_id for merchant in self.merchants}
        log = [notification for notification in self.sandbox.notifier.log() if notification["order_ref"] in ours]
        sent = Counter()
        for notification in log:
            delivered = [d for d in notification["deliveries"] if d["status"] == "delivered"]
            if len(delivered) != len(notification["deliveries"]):
                problems.append(f"notification {notification['id']} was not delivered: {notification['deliveries']}")
            sent[notification["id"]] = len(delivered)
        received = InboundNotification.objects.filter(payment_reference__in=ours)
        accepted = Counter(received.filter(verdict="accepted").values_list("event_id", flat=True))
        duplicates = Counter(received.filter(verdict="duplicate").values_list("event_id", flat=True))
        if set(accepted) != set(sent) or any(count != 1 for count in accepted.values()):
            problems.append("the notifications accepted are not exactly the ones sent, once each")
        if any(duplicates[event] != sent[event] - 1 for event in sent):
            problems.append("repeated deliveries were not all recognised as duplicates")
        if InboundNotification.objects.filter(verdict="rejected").exists():
            problems.append("some notifications were rejected")
        unfinished = received.filter(verdict="accepted").exclude(status__in=["applied", "ignored"])
        if unfinished.exists():
            sample = list(unfinished.values("kind", "status", "result")[:5])
            problems.append(f"{unfinished.count()} notifications not applied, such as {sample}")
        self.figures.update(
            notifications=len(log),
            deliveries=sum(sent.values()),
            applied=received.filter(status="applied").count(),
            ignored_as_stale_or_done=received.filter(status="ignored").count(),
        )
        return problems

    def summary(self) -> str:
        return json.dumps(dict(sorted(self.figures.items())), indent=2)
