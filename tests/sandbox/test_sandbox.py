"""The sandbox itself, at the wire: each provider's own formats, the control resource, serving
while an answer is held back, persistence, and running it as a command."""

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

from core.ids import new_payment_id
from sandbox import Sandbox
from sandbox.faults import FaultTable
from sandbox.store import Store

ROOT = Path(__file__).resolve().parents[2]
CIELO = {"MerchantId": "sandbox-merchant", "MerchantKey": "sandbox-key"}
REDE = ("sandbox-pv", "sandbox-token")


@pytest.fixture
def http(sandbox_providers):
    with httpx.Client(base_url=sandbox_providers.url, timeout=5) as client:
        yield client


def cielo_sale(token: str, order_id: str = "") -> dict:
    payment = {"Type": "CreditCard", "Amount": 1_000, "Currency": "BRL", "CreditCard": {"CardToken": token}}
    return {"MerchantOrderId": order_id or new_payment_id(), "Payment": payment}


def rede_transaction(token: str) -> dict:
    return {"capture": False, "kind": "credit", "reference": new_payment_id(), "amount": 1_000, "cardToken": token}


def getnet_token(http: httpx.Client) -> str:
    form = {"scope": "oob", "grant_type": "client_credentials"}
    reply = http.post("/getnet/auth/oauth/v2/token", data=form, auth=("sandbox-client", "sandbox-secret"))
    return reply.json()["access_token"]


# --- each provider's own formats ------------------------------------------------------------------


def test_wrong_credentials_are_refused_in_each_providers_format(http):
    cielo = http.post("/cielo/1/sales/", json=cielo_sale("tok_approve"), headers={**CIELO, "MerchantKey": "x"})
    rede = http.post("/rede/v1/transactions", json=rede_transaction("tok_approve"), auth=("sandbox-pv", "x"))
    oauth = http.post("/getnet/auth/oauth/v2/token", data={"grant_type": "client_credentials"}, auth=("a", "b"))
    getnet = http.get("/getnet/v1/payments/credit/123", headers={"Authorization": "Bearer nope"})

    assert cielo.status_code == 401
    assert cielo.json() == [{"Code": 132, "Message": "MerchantKey is invalid"}]
    assert rede.status_code == 401
    assert rede.json()["returnCode"] == "57"
    assert oauth.status_code == 401
    assert oauth.json()["error"] == "invalid_client"
    assert getnet.status_code == 401
    assert getnet.json()["details"][0]["error_code"] == "GENERIC-401"


def test_a_malformed_card_token_is_refused_in_each_providers_format(http):
    bearer = {"Authorization": f"Bearer {getnet_token(http)}"}
    getnet_payment = {
        "seller_id": "sandbox-seller",
        "amount": 1_000,
        "currency": "BRL",
        "order": {"order_id": new_payment_id()},
        "credit": {"delayed": True, "card": {"number_token": "4111111111111111"}},
    }

    cielo = http.post("/cielo/1/sales/", json=cielo_sale("4111111111111111"), headers=CIELO)
    rede = http.post("/rede/v1/transactions", json=rede_transaction("4111111111111111"), auth=REDE)
    getnet = http.post("/getnet/v1/payments/credit", json=getnet_payment, headers=bearer)

    assert (cielo.status_code, cielo.json()[0]["Code"]) == (400, 130)
    assert (rede.status_code, rede.json()["returnCode"]) == (400, "89")
    assert (getnet.status_code, getnet.json()["details"][0]["error_code"]) == (400, "GENERIC-400")


def test_a_denied_getnet_payment_is_a_402_with_the_issuers_reason(http):
    payment = {
        "seller_id": "sandbox-seller",
        "amount": 1_000,
        "currency": "BRL",
        "order": {"order_id": new_payment_id()},
        "credit": {"delayed": False, "card": {"number_token": "tok_insufficient_funds"}},
    }

    reply = http.post(
        "/getnet/v1/payments/credit", json=payment, headers={"Authorization": f"Bearer {getnet_token(http)}"}
    )

    assert reply.status_code == 402
    detail = reply.json()["details"][0]
    assert (detail["status"], detail["error_code"]) == ("DENIED", "PAYMENTS-402")
    assert detail["description_detail"].startswith("51 ")


def test_an_unknown_path_is_a_404(http):
    assert http.get("/stone/v1/anything").status_code == 404
    assert http.get("/cielo/2/nothing", headers=CIELO).status_code == 404


# --- serving --------------------------------------------------------------------------------------


def test_an_answer_held_back_does_not_hold_up_other_requests(http, sandbox_providers):
    sandbox_providers.settings.timeout_delay_seconds = 3
    slow = threading.Thread(
        target=http.post, args=("/cielo/1/sales/",), kwargs={"json": cielo_sale("tok_timeout"), "headers": CIELO}
    )
    slow.start()

    fast = http.post("/cielo/1/sales/", json=cielo_sale("tok_approve"), headers=CIELO)

    assert fast.status_code == 201
    assert slow.is_alive()  # still waiting for its answer
    slow.join()


def test_transactions_outlive_a_restart(tmp_path):
    state = tmp_path / "sandbox.sqlite3"
    sale = cielo_sale("tok_approve")
    first = Sandbox.start(state=state)
    with httpx.Client(base_url=first.url) as http:
        before = http.post("/cielo/1/sales/", json=sale, headers=CIELO).json()
    first.stop()

    second = Sandbox.start(state=state)
    with httpx.Client(base_url=second.url) as http:
        after = http.post("/cielo/1/sales/", json=sale, headers=CIELO).json()
    second.stop()

    assert after == before  # the repeated sale is answered from the stored one, not charged again


def test_the_command_serves_until_terminated(tmp_path):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    state = tmp_path / "state" / "sandbox.sqlite3"
    command = [sys.executable, "-m", "sandbox", "--port", str(port), "--state", str(state)]
    env = {**os.environ, "SANDBOX_FAULTS": '{"rede": {"error_rate": 0.5}}'}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stderr=subprocess.PIPE)
    try:
        faults = None
        deadline = time.monotonic() + 10
        while faults is None and time.monotonic() < deadline:
            try:
                faults = httpx.get(f"http://127.0.0.1:{port}/_control/faults").json()
            except httpx.TransportError:
                time.sleep(0.05)  # still starting
        assert faults is not None and faults["rede"]["error_rate"] == 0.5
        assert state.exists()
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0, process.stderr.read().decode()


def test_the_sandbox_never_imports_django():
    code = "import sys, sandbox.__main__; sys.exit(any(m.split('.')[0] == 'django' for m in sys.modules))"

    assert subprocess.run([sys.executable, "-c", code], cwd=ROOT, check=False).returncode == 0


# --- faults ---------------------------------------------------------------------------------------


def test_faults_are_set_shown_and_cleared_over_http(http):
    everywhere = http.post("/_control/faults", json={"latency_ms": 5})
    rede = http.post("/_control/faults", json={"provider": "rede", "error_rate": 0.25, "duration_seconds": 60})
    shown = http.get("/_control/faults").json()
    cleared = http.delete("/_control/faults").json()

    assert everywhere.status_code == rede.status_code == 200
    assert shown["all"]["latency_ms"] == 5
    assert shown["rede"]["error_rate"] == 0.25
    assert shown["rede"]["latency_ms"] == 0  # a provider's setting replaces "all" for it
    assert shown["rede"]["expires_at"]
    assert cleared == {}


@pytest.mark.parametrize(
    "faults",
    [{"error_rate": 1.5}, {"latency_ms": -1}, {"outage": "yes"}, {"provider": "stone"}, {"sparks": 1}, [1]],
)
def test_invalid_fault_settings_are_refused(http, faults):
    reply = http.post("/_control/faults", json=faults)

    assert reply.status_code == 400
    assert http.get("/_control/faults").json() == {}


def test_latency_is_added_to_each_call(http, sandbox_providers):
    sandbox_providers.faults.set_from_request({"provider": "cielo", "latency_ms": 200})
    started = time.perf_counter()

    reply = http.get("/cielo/1/sales", params={"merchantOrderId": "none"}, headers=CIELO)

    assert reply.status_code == 200
    assert time.perf_counter() - started >= 0.2


def test_fault_coin_flips_repeat_with_the_same_seed():
    def flips(seed):
        table = FaultTable(Store(":memory:"), ["cielo"], seed=seed)
        return [table.chance(0.5) for _ in range(64)]

    assert flips(7) == flips(7)
    assert flips(7) != flips(8)
    assert True in flips(7) and False in flips(7)
