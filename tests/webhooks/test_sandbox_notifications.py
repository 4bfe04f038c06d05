"""The sandbox as a notifying provider, at the wire: late, twice, out of order and retried on
purpose, each provider signing its own way, and its disputes."""

import json
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from providers import registry
from providers.port import Outcome
from sandbox import notifications as sandbox_notifications
from tests.providers.support import authorize, capture, refund
from tests.webhooks.conftest import wait_until
from tests.webhooks.helpers import kind_of

ROOT = Path(__file__).resolve().parents[2]


def _log(sandbox, order_ref: str) -> list[dict]:
    return [n for n in sandbox.notifier.log() if n["order_ref"] == order_ref]


def _delivered(sandbox, order_ref: str, count: int = 1) -> list[dict]:
    def done():
        entries = _log(sandbox, order_ref)
        deliveries = [d for n in entries for d in n["deliveries"]]
        return entries if len(deliveries) >= count and all(d["status"] == "delivered" for d in deliveries) else None

    return wait_until(done, what=f"{count} deliveries about {order_ref}")


def test_each_providers_notification_is_signed_its_own_way_and_reads_back(recorder):
    for name in ("cielo", "rede", "getnet"):
        reference, result = authorize(registry.get_provider(name), "tok_approve")
        assert result.outcome == Outcome.APPROVED

        [notification] = wait_until(lambda ref=reference: recorder.of(ref), what=f"{name}'s notification")

        headers = {key.lower() for key in notification.headers}
        assert {"cielo": {"x-cielo-signature"}, "rede": {"x-rede-signature", "x-rede-timestamp"}}.get(
            name, {"x-getnet-signature", "x-getnet-timestamp"}
        ) <= headers
        assert notification.provider == name
        assert kind_of(notification) == "authorization"


def test_notifications_leave_after_the_configured_delay(recorder, provider_sandbox):
    provider_sandbox.notifier.configure({"webhook_delay_seconds": 0.3})

    reference, _ = authorize(registry.get_provider("rede"), "tok_approve")

    [entry] = _delivered(provider_sandbox, reference)
    assert entry["deliveries"][0]["delivered_at"] - entry["created_at"] >= 0.3


def test_a_duplicated_notification_is_sent_twice_with_the_same_id(recorder, provider_sandbox):
    provider_sandbox.notifier.configure({"webhook_duplicate_rate": 1.0})

    reference, _ = authorize(registry.get_provider("getnet"), "tok_decline")

    _delivered(provider_sandbox, reference, count=2)
    first, second = recorder.of(reference)
    assert first.body == second.body
    assert json.loads(first.body)["status"] == "DENIED"


def test_a_held_back_notification_is_overtaken_by_a_later_one(recorder, provider_sandbox):
    cielo = registry.get_provider("cielo")
    provider_sandbox.notifier.configure({"webhook_reorder_rate": 1.0, "webhook_reorder_delay_seconds": 0.5})
    held_back, _ = authorize(cielo, "tok_approve")
    provider_sandbox.notifier.configure({"webhook_reorder_rate": 0.0})
    overtaking, _ = authorize(cielo, "tok_approve")

    _delivered(provider_sandbox, held_back)

    order = [d.data["MerchantOrderId"] for d in recorder.deliveries]
    assert [ref for ref in order if ref in (held_back, overtaking)] == [overtaking, held_back]


def test_a_failed_delivery_is_retried(recorder, provider_sandbox):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    provider_sandbox.notifier.configure({"webhook_url": f"http://127.0.0.1:{closed}/webhooks/providers"})
    reference, _ = authorize(registry.get_provider("cielo"), "tok_approve")

    wait_until(lambda: _log(provider_sandbox, reference)[0]["deliveries"][0]["attempts"] >= 2, what="a second attempt")
    provider_sandbox.notifier.configure({"webhook_url": recorder.url})

    [entry] = _delivered(provider_sandbox, reference)
    assert entry["deliveries"][0]["attempts"] >= 3
    assert len(recorder.of(reference)) == 1


def test_the_outbox_is_bounded(recorder, provider_sandbox, monkeypatch):
    monkeypatch.setattr(sandbox_notifications, "MAX_PENDING_DELIVERIES", 0)

    reference, result = authorize(registry.get_provider("rede"), "tok_approve")

    assert result.outcome == Outcome.APPROVED  # the payment is not held up by it
    assert _log(provider_sandbox, reference) == []


def test_a_chargeback_is_opened_after_capture_and_decided_as_told(recorder, provider_sandbox):
    getnet = registry.get_provider("getnet")
    reference, result = authorize(getnet, "tok_chargeback")
    assert capture(getnet, result.provider_reference, 10_000).outcome == Outcome.APPROVED

    opened = wait_until(
        lambda: [d for d in recorder.of(reference) if kind_of(d) == "dispute_opened"], what="the dispute"
    )
    dispute_id = opened[0].data["chargeback"]["chargeback_id"]
    decided = provider_sandbox.notifier.disputes.decide(dispute_id=dispute_id, outcome="lost")

    assert [d.status for d in decided] == ["lost"]
    wait_until(lambda: [d for d in recorder.of(reference) if kind_of(d) == "dispute_lost"], what="the decision")


def test_nothing_left_to_dispute_opens_no_dispute(recorder, provider_sandbox):
    provider_sandbox.notifier.configure({"chargeback_delay_seconds": 1.0})
    rede = registry.get_provider("rede")
    reference, result = authorize(rede, "tok_chargeback")
    assert capture(rede, result.provider_reference, 10_000).outcome == Outcome.APPROVED
    assert refund(rede, result.provider_reference, 10_000).outcome == Outcome.APPROVED

    wait_until(
        lambda: [
            d for d in provider_sandbox.notifier.disputes.all() if d.order_ref == reference and d.status == "dropped"
        ],
        what="the dispute to be dropped",
    )
    # The sandbox sends from a pool of threads: the refund's notification may still be on its way
    # when the dispute is dropped, and the three may arrive in any order.
    _delivered(provider_sandbox, reference, count=3)

    assert len(_log(provider_sandbox, reference)) == 3  # nothing about a dispute waits to be sent
    assert sorted(kind_of(d) for d in recorder.of(reference)) == ["authorization", "capture", "refund"]


def test_the_control_resources_validate_and_show_their_state(provider_sandbox):
    with httpx.Client(base_url=provider_sandbox.url) as http:
        bad = [
            http.post("/_control/notifications", json={"webhook_duplicate_rate": 2}),
            http.post("/_control/notifications", json={"webhook_delay_seconds": 61}),
            http.post("/_control/notifications", json={"webhook_url": "ftp://x"}),
            http.post("/_control/notifications", json={"colour": "red"}),
            http.post("/_control/disputes/decide", json={"outcome": "maybe"}),
        ]
        changed = http.post("/_control/notifications", json={"webhook_jitter_seconds": 0.25})
        discarded = http.delete("/_control/notifications")
        listed = http.get("/_control/disputes")

    assert [r.status_code for r in bad] == [400, 400, 400, 400, 400]
    assert changed.status_code == 200
    assert changed.json()["settings"]["webhook_jitter_seconds"] == 0.25
    assert set(changed.json()["deliveries"]) == {"pending", "sending", "delivered", "failed"}
    assert discarded.json()["deliveries"]["pending"] == 0
    assert listed.status_code == 200 and isinstance(listed.json()["disputes"], list)


def test_the_command_sends_to_the_webhook_url_it_is_given(recorder):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {**os.environ, "SANDBOX_WEBHOOK_DELAY_SECONDS": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "sandbox", "--port", str(port), "--webhook-url", recorder.url],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until(lambda: _answers(url), what="the sandbox to start")
        settings = httpx.get(f"{url}/_control/notifications").json()["settings"]
        assert settings["webhook_url"] == recorder.url
        sale = {
            "MerchantOrderId": "pay_CLI",
            "Payment": {"Type": "CreditCard", "Amount": 100, "CreditCard": {"CardToken": "tok_approve"}},
        }
        headers = {"MerchantId": "sandbox-merchant", "MerchantKey": "sandbox-key"}
        assert httpx.post(f"{url}/cielo/1/sales/", json=sale, headers=headers).status_code == 201
        wait_until(lambda: recorder.of("pay_CLI"), what="the command's notification")
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=10)


def _answers(url: str) -> bool:
    try:
        return httpx.get(f"{url}/_control/faults", timeout=1).status_code == 200
    except httpx.HTTPError:
        return False
