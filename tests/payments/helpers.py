"""Small helpers to speak to the API the way a merchant's system does."""

import json
import threading
import uuid
from collections.abc import Callable

from django.db import connections
from rest_framework.test import APIClient

API = "/api/v1"
PROBLEM_JSON = "application/problem+json"


def new_key() -> str:
    return f"test-{uuid.uuid4()}"


def client_for(api_key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key}")
    return client


def post(client: APIClient, path: str, data=None, *, key: str | None = None, raw: bytes | str | None = None, **extra):
    """POST under /api/v1 with an Idempotency-Key (a fresh one unless given). `raw` sends the
    bytes exactly as given, as application/json."""
    headers = {"HTTP_IDEMPOTENCY_KEY": new_key() if key is None else key, **extra}
    if raw is not None:
        return client.generic("POST", API + path, raw, content_type="application/json", **headers)
    return client.post(API + path, {} if data is None else data, format="json", **headers)


def get(client: APIClient, path: str, params: dict | None = None):
    return client.get(API + path, params or {})


def payment_body(**overrides) -> dict:
    body = {
        "amount": 10_000,
        "currency": "BRL",
        "payment_method": {"type": "card", "token": "tok_approve"},
    }
    body.update(overrides)
    return body


def create_payment(client: APIClient, **overrides) -> dict:
    response = post(client, "/payments", payment_body(**overrides))
    assert response.status_code == 201, response.content
    return response.json()


def authorize(client: APIClient, payment_id: str, **kwargs):
    return post(client, f"/payments/{payment_id}/authorize", {}, **kwargs)


def capture(client: APIClient, payment_id: str, amount: int | None = None, **kwargs):
    return post(client, f"/payments/{payment_id}/capture", {} if amount is None else {"amount": amount}, **kwargs)


def cancel(client: APIClient, payment_id: str, **kwargs):
    return post(client, f"/payments/{payment_id}/cancel", {}, **kwargs)


def refund(client: APIClient, payment_id: str, amount: int | None = None, **kwargs):
    return post(client, f"/payments/{payment_id}/refunds", {} if amount is None else {"amount": amount}, **kwargs)


def authorized_payment(client: APIClient, **overrides) -> dict:
    """A payment authorized through the API with manual capture (so it stays authorized)."""
    payment = create_payment(client, capture_method="manual", **overrides)
    response = authorize(client, payment["id"])
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "authorized", response.json()
    return response.json()


def captured_payment(client: APIClient, **overrides) -> dict:
    payment = create_payment(client, **overrides)
    response = authorize(client, payment["id"])
    assert response.status_code == 200, response.content
    assert response.json()["status"] == "captured", response.json()
    return response.json()


def assert_problem(response, status: int, code: str | None = None) -> dict:
    """The response is an RFC 9457 problem with this status (and code), and returns its body."""
    assert response.status_code == status, (response.status_code, response.content[:2000])
    assert response["Content-Type"].startswith(PROBLEM_JSON), response["Content-Type"]
    body = json.loads(response.content)
    assert body["status"] == status
    assert isinstance(body["code"], str) and body["code"]
    assert body["title"] and body["type"] and "detail" in body
    assert isinstance(body["errors"], list)
    if code is not None:
        assert body["code"] == code, body
    return body


def error_fields(body: dict) -> set:
    return {error["field"] for error in body["errors"]}


def run_concurrently(count: int, work: Callable[[int], object], *, timeout: float = 120) -> list:
    """Runs work(0..count-1) in `count` threads released together by a barrier. Each thread has
    its own database connection, closed when it ends. Returns the results in index order."""
    barrier = threading.Barrier(count)
    results: list = [None] * count
    failures: list = []

    def worker(index: int) -> None:
        try:
            barrier.wait(timeout=timeout)
            results[index] = work(index)
        except BaseException as exc:  # reported to the test below
            failures.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=worker, args=(index,), daemon=True) for index in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    assert not any(thread.is_alive() for thread in threads), "a worker thread hung"
    assert not failures, failures
    return results
