"""The HTTP edge as a client sees it, against gunicorn with the production settings: chunked
bodies, problem+json for every error under /api/ and /webhooks/, the request limits, and the
response headers."""

import json
import re
import uuid

import httpx
import pytest
from django.conf import settings

from payments.models import Payment, Refund
from tests.fixtures.gunicorn_server import LIVE_METRICS_TOKEN, LIVE_PROVIDER_SECRETS
from tests.payments.helpers import PROBLEM_JSON
from tests.webhooks.helpers import signed, synthetic
from webhooks.models import InboundNotification


def chunked(body: bytes, size: int = 7):
    """A body httpx sends with Transfer-Encoding: chunked (and no Content-Length)."""
    for start in range(0, len(body), size):
        yield body[start : start + size]


def assert_problem(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, (response.status_code, response.text[:500])
    assert response.headers["content-type"].startswith(PROBLEM_JSON), response.headers
    body = response.json()
    assert body["status"] == status and body["code"] == code, body
    assert body["type"] and body["title"] and "detail" in body and isinstance(body["errors"], list)
    return body


@pytest.fixture
def merchant_api(gunicorn_server):
    """A client of the live server, authenticated as a merchant committed for it."""
    from merchants.services import api_key_issue
    from tests.factories import MerchantFactory

    key = api_key_issue(merchant=MerchantFactory())
    with gunicorn_server.client(headers={"Authorization": f"Bearer {key}"}) as client:
        yield client


def post(client: httpx.Client, path: str, body=None, *, content=None) -> httpx.Response:
    """POST under /api/v1 with a fresh Idempotency-Key; `content` (bytes or chunks) as given."""
    headers = {"Idempotency-Key": f"edge-{uuid.uuid4()}", "Content-Type": "application/json"}
    content = json.dumps(body or {}).encode() if content is None else content
    return client.post(f"/api/v1{path}", content=content, headers=headers)


def live_payment(client: httpx.Client, capture_method: str) -> str:
    """An authorized payment from a wallet: wallet payments call no provider, and the live
    server's provider credentials are not the test sandbox's."""
    wallet = post(client, "/wallets", {"currency": "BRL", "owner_reference": "edge"})
    assert wallet.status_code == 201, wallet.text
    wallet_id = wallet.json()["id"]
    topped_up = post(client, f"/wallets/{wallet_id}/movements", {"type": "income", "amount": 5000})
    assert topped_up.status_code == 201, topped_up.text
    body = {"amount": 1000, "currency": "BRL", "capture_method": capture_method}
    body["payment_method"] = {"type": "wallet", "wallet": wallet_id}
    created = post(client, "/payments", body)
    assert created.status_code == 201, created.text
    authorized = post(client, f"/payments/{created.json()['id']}/authorize")
    assert authorized.status_code == 200, authorized.text
    expected = "authorized" if capture_method == "manual" else "captured"
    assert authorized.json()["status"] == expected, authorized.json()
    return created.json()["id"]


# --- Chunked bodies -------------------------------------------------------------------------------


def test_a_chunked_capture_captures_the_amount_it_names(merchant_api):
    payment_id = live_payment(merchant_api, "manual")

    response = post(merchant_api, f"/payments/{payment_id}/capture", content=chunked(b'{"amount": 300}'))

    assert response.request.headers["transfer-encoding"] == "chunked"
    assert "content-length" not in response.request.headers
    assert response.status_code == 200, response.text
    assert response.json()["amount_captured"] == 300
    payment = Payment.objects.get(pk=payment_id)
    assert (payment.status, payment.amount_captured) == ("captured", 300)


def test_a_chunked_refund_refunds_the_amount_it_names(merchant_api):
    payment_id = live_payment(merchant_api, "automatic")

    response = post(merchant_api, f"/payments/{payment_id}/refunds", content=chunked(b'{"amount": 1}'))

    assert response.status_code in (200, 201, 202), response.text
    assert [refund.amount for refund in Refund.objects.filter(payment_id=payment_id)] == [1]


def test_a_chunked_body_over_the_cap_is_refused_and_moves_nothing(merchant_api):
    payment_id = live_payment(merchant_api, "manual")
    padding = b" " * settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    response = post(
        merchant_api, f"/payments/{payment_id}/capture", content=chunked(b'{"amount": 300}' + padding, 65536)
    )

    assert_problem(response, 413, "request_too_large")
    assert Payment.objects.get(pk=payment_id).status == "authorized"


def test_a_chunked_provider_notification_is_read_and_verified(gunicorn_server):
    notification = synthetic("cielo", "authorization", payment_id="pay_edge_unknown")
    delivery = signed("cielo", notification.body, secret=LIVE_PROVIDER_SECRETS["CIELO_WEBHOOK_SECRET"])
    headers = {k: v for k, v in delivery.headers.items() if k.lower() != "content-length"}

    with gunicorn_server.client() as client:
        response = client.post("/webhooks/providers/cielo/", content=chunked(delivery.body), headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["received"] is True
    assert bytes(InboundNotification.objects.get(pk=response.json()["id"]).body) == delivery.body


def test_a_chunked_admin_login_form_is_read(gunicorn_server):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import PBKDF2PasswordHasher

    # Hashed the way the server's (production) hashers read it; the tests' settings hash with MD5.
    password = PBKDF2PasswordHasher().encode("edge-password-1", "edgesalt")
    get_user_model().objects.create(username="edge-operator", password=password, is_staff=True, is_superuser=True)
    with gunicorn_server.client() as client:
        page = client.get("/admin/login/")
        # The cookie is Secure; this test speaks plain HTTP, so it sends it itself.
        cookie = re.search(r"csrftoken=([^;]+)", page.headers["set-cookie"]).group(1)
        token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
        form = f"csrfmiddlewaretoken={token}&username=edge-operator&password=edge-password-1&next=/admin/"

        response = client.post(
            "/admin/login/",
            content=chunked(form.encode()),
            headers={"Cookie": f"csrftoken={cookie}", "Content-Type": "application/x-www-form-urlencoded"},
        )

    assert response.status_code == 302, response.text[:500]
    assert response.headers["location"] == "/admin/"


# --- problem+json for every error -----------------------------------------------------------------


def test_an_unknown_api_url_is_a_problem(merchant_api):
    assert_problem(merchant_api.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_problem(merchant_api.get("/api/nothing"), 404, "not_found")


def test_a_disallowed_host_is_a_problem(gunicorn_server):
    with gunicorn_server.client() as client:
        response = client.get("/api/v1/payments", headers={"Host": "evil.example"})
    assert_problem(response, 400, "bad_request")


def test_a_body_over_the_cap_with_its_length_is_a_problem(merchant_api):
    payment_id = live_payment(merchant_api, "manual")
    body = b'{"amount": 300}' + b" " * settings.DATA_UPLOAD_MAX_MEMORY_SIZE

    assert_problem(post(merchant_api, f"/payments/{payment_id}/capture", content=body), 413, "request_too_large")


# --- Limits on the request line and headers ---------------------------------------------------


def test_a_long_request_line_is_a_problem_from_django(gunicorn_server):
    with gunicorn_server.client() as client:
        response = client.get("/api/v1/payments", params={"filler": "x" * 6 * 1024})
    body = assert_problem(response, 414, "uri_too_long")
    assert str(settings.REQUEST_LINE_MAX_BYTES) in body["detail"]


def test_large_headers_are_a_problem_from_django(gunicorn_server):
    with gunicorn_server.client() as client:
        one_big = client.get("/api/v1/payments", headers={"X-Filler": "x" * 10 * 1024})
        many = client.get("/health/live", headers={f"X-Filler-{n}": "x" for n in range(60)})
    assert_problem(one_big, 431, "request_header_fields_too_large")
    assert_problem(many, 431, "request_header_fields_too_large")


def test_a_request_within_the_limits_passes(gunicorn_server):
    with gunicorn_server.client() as client:
        response = client.get("/health/live", params={"filler": "x" * 3 * 1024}, headers={"X-Filler": "x" * 6 * 1024})
    assert response.status_code == 200, response.text


def test_gunicorns_own_limit_is_only_a_backstop_past_djangos(gunicorn_server):
    # Past gunicorn's maximum request line, only gunicorn can answer.
    with gunicorn_server.client() as client:
        response = client.get("/health/live", params={"filler": "x" * 9 * 1024})
    assert response.status_code == 414


# --- Response headers -----------------------------------------------------------------------------


def test_api_answers_are_not_stored_and_the_server_does_not_name_itself(merchant_api, gunicorn_server):
    answers = [
        merchant_api.get("/api/v1/payments"),
        merchant_api.get("/api/v1/no-such-thing"),
        merchant_api.post("/webhooks/providers/cielo/", content=b"{}"),
    ]
    for response in answers:
        assert response.headers["cache-control"] == "no-store", response.request.url
    with gunicorn_server.client() as client:
        answers += [client.get("/health/live"), client.get("/admin/login/")]
    for response in answers:
        assert "server" not in response.headers, response.request.url


def test_the_admin_may_not_be_framed(gunicorn_server):
    with gunicorn_server.client() as client:
        response = client.get("/admin/login/")
    assert response.status_code == 200
    policy = response.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in policy
    assert "script-src 'self'" in policy


def test_metrics_want_the_token(gunicorn_server):
    with gunicorn_server.client() as client:
        anonymous = client.get("/metrics")
        wrong = client.get("/metrics", headers={"Authorization": "Bearer not-the-token"})
        right = client.get("/metrics", headers={"Authorization": f"Bearer {LIVE_METRICS_TOKEN}"})
    assert_problem(anonymous, 401, "authentication_required")
    assert anonymous.headers["www-authenticate"].startswith("Bearer")
    assert_problem(wrong, 401, "authentication_required")
    assert right.status_code == 200
    assert right.headers["content-type"].startswith("text/plain")
    assert "# TYPE" in right.text
