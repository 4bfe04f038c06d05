"""The HTTP edge with Django's test client: what any settings (DEBUG included) and any view
(DRF or not) answer under /api/ and /webhooks/, the limits from the settings, /metrics' token,
the admin under its Content-Security-Policy, and gunicorn's limits derived from ours."""

import io
import re
import runpy
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.contrib.staticfiles import finders
from django.test import Client
from django.urls import reverse

from core.edge import read_chunked_bodies
from core.http_limits import GUNICORN_MAX_REQUEST_LINE, request_limits
from tests.factories import PaymentFactory
from tests.payments.helpers import assert_problem, capture

ROOT = Path(__file__).resolve().parents[2]


# --- problem+json whatever the settings -------------------------------------------------------


def test_with_debug_on_an_unknown_api_url_is_a_problem_not_the_debug_page(client, settings):
    settings.DEBUG = True

    assert_problem(client.get("/api/v1/no-such-thing"), 404, "not_found")
    assert_problem(client.post("/webhooks/nothing"), 404, "not_found")
    # Outside the API, Django's own pages stay.
    assert client.get("/no-such-page")["Content-Type"].startswith("text/html")


def test_with_debug_on_a_disallowed_host_is_a_problem(client, settings):
    settings.DEBUG = True

    assert_problem(client.get("/api/v1/payments", HTTP_HOST="evil.example"), 400, "bad_request")


@pytest.mark.urls("tests.edge.urls")
def test_a_405_from_a_plain_django_view_is_a_problem_that_keeps_allow(client):
    response = client.get("/api/test-only/form")

    assert_problem(response, 405, "method_not_allowed")
    assert response["Allow"] == "POST"
    assert response["Cache-Control"] == "no-store"


@pytest.mark.urls("tests.edge.urls")
def test_a_csrf_failure_under_the_api_is_a_problem():
    response = Client(enforce_csrf_checks=True).post("/api/test-only/form")

    assert_problem(response, 403, "csrf_failed")


@pytest.mark.urls("tests.edge.urls")
@pytest.mark.parametrize("debug", [True, False])
def test_a_crash_outside_drf_is_a_problem(settings, debug):
    settings.DEBUG = debug

    response = Client(raise_request_exception=False).get("/api/test-only/crash")

    body = assert_problem(response, 500, "internal_error")
    assert "a bug outside DRF" not in response.content.decode()
    assert body["detail"] == "Something went wrong on our side."


def test_drf_problems_pass_unchanged_and_are_not_stored(client):
    response = client.get("/api/v1/payments")

    assert_problem(response, 401, "authentication_required")
    assert response["Cache-Control"] == "no-store"
    assert "WWW-Authenticate" in response


# --- bodies a server could not read -----------------------------------------------------------


def test_a_chunked_request_the_server_did_not_decode_is_refused_not_read_as_empty(api, merchant):
    payment = PaymentFactory(merchant=merchant, authorized=True, amount=1000)

    # The test client, like runserver, marks no input as terminated: nothing can read the body.
    response = capture(api, payment.id, 300, HTTP_TRANSFER_ENCODING="chunked")

    assert_problem(response, 411, "length_required")
    payment.refresh_from_db()
    assert (payment.status, payment.amount_captured) == ("authorized", 0)


def test_the_wsgi_wrapper_gives_a_chunked_body_its_length(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 10
    seen = {}

    def app(environ, start_response):
        seen.update(length=environ["CONTENT_LENGTH"], body=environ["wsgi.input"].read())
        return []

    def environ(body: bytes) -> dict:
        return {"HTTP_TRANSFER_ENCODING": "chunked", "wsgi.input": io.BytesIO(body), "wsgi.input_terminated": True}

    read_chunked_bodies(app)(environ(b'{"a": 1}'), None)
    assert seen == {"length": "8", "body": b'{"a": 1}'}

    too_large = environ(b"x" * 11)
    read_chunked_bodies(app)(too_large, None)
    assert too_large["payments_core.chunked_body_too_large"] is True
    assert seen == {"length": "0", "body": b""}


# --- limits from the settings -------------------------------------------------------------------


def test_the_request_line_limit_is_the_settings(client, settings):
    settings.REQUEST_LINE_MAX_BYTES = 200
    line = len("GET /health/live? HTTP/1.1")

    assert client.get("/health/live", QUERY_STRING="q=" + "x" * (200 - line - 2)).status_code == 200
    body = assert_problem(client.get("/health/live", QUERY_STRING="q=" + "x" * (201 - line - 2)), 414, "uri_too_long")
    assert "200" in body["detail"]


def test_the_header_limits_are_the_settings(client, settings):
    settings.REQUEST_HEADERS_MAX_BYTES = 2000
    settings.REQUEST_HEADERS_MAX_FIELDS = 10

    assert client.get("/health/live", HTTP_X_FILLER="x" * 1000).status_code == 200
    assert_problem(client.get("/health/live", HTTP_X_FILLER="x" * 2000), 431, "request_header_fields_too_large")
    many = {f"HTTP_X_FILLER_{n}": "x" for n in range(10)}
    assert_problem(client.get("/health/live", **many), 431, "request_header_fields_too_large")


def test_gunicorns_limits_follow_the_same_variables_and_stay_higher(monkeypatch, settings):
    config = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    assert config["limit_request_line"] == GUNICORN_MAX_REQUEST_LINE > settings.REQUEST_LINE_MAX_BYTES
    assert config["limit_request_field_size"] == 2 * settings.REQUEST_HEADERS_MAX_BYTES
    assert config["limit_request_fields"] == 2 * settings.REQUEST_HEADERS_MAX_FIELDS

    monkeypatch.setenv("REQUEST_HEADERS_MAX_BYTES", "4000")
    monkeypatch.setenv("REQUEST_HEADERS_MAX_FIELDS", "20")
    config = runpy.run_path(str(ROOT / "config" / "gunicorn.py"))
    assert (config["limit_request_field_size"], config["limit_request_fields"]) == (8000, 40)


def test_a_request_line_limit_gunicorn_could_not_let_through_is_refused():
    with pytest.raises(ValueError, match="REQUEST_LINE_MAX_BYTES"):
        request_limits({"REQUEST_LINE_MAX_BYTES": str(GUNICORN_MAX_REQUEST_LINE)})


# --- /metrics ---------------------------------------------------------------------------------


def test_without_a_token_production_metrics_are_not_found(client, settings):
    settings.METRICS_TOKEN = ""
    settings.METRICS_ALLOW_WITHOUT_TOKEN = False

    assert_problem(client.get("/metrics"), 404, "not_found")


def test_with_a_token_metrics_want_it(client, settings):
    settings.METRICS_TOKEN = "s3cret-metrics"

    assert_problem(client.get("/metrics"), 401, "authentication_required")
    assert_problem(client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metric"), 401, "authentication_required")
    assert_problem(client.get("/metrics", HTTP_AUTHORIZATION="Basic s3cret-metrics"), 401, "authentication_required")
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer s3cret-metrics").status_code == 200


# --- the admin under its Content-Security-Policy ----------------------------------------------------


class _Page(HTMLParser):
    """What a page loads, and anything a strict policy (no inline script or style) would block."""

    def __init__(self):
        super().__init__()
        self.assets: list[str] = []
        self.blocked: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if "style" in attrs or any(name.startswith("on") for name in attrs):
            self.blocked.append(f"<{tag} {attrs}>")
        if tag == "style":
            self.blocked.append("<style>")
        if tag == "script":
            if attrs.get("src"):
                self.assets.append(attrs["src"])
            elif attrs.get("type") != "application/json":  # data, never executed
                self._in_script = True
        if tag == "link" and attrs.get("rel") == "stylesheet":
            self.assets.append(attrs["href"])

    def handle_data(self, data):
        if self._in_script and data.strip():
            self.blocked.append(f"inline script: {data.strip()[:80]}")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_script = False


def _assert_works_under_the_policy(response):
    assert response.status_code == 200
    policy = response["Content-Security-Policy"]
    for directive in ("frame-ancestors 'none'", "script-src 'self'", "style-src 'self'", "default-src 'none'"):
        assert directive in policy, policy
    page = _Page()
    page.feed(response.content.decode())
    assert page.blocked == []
    assert page.assets, "the admin page loads its scripts and styles"
    for asset in page.assets:
        assert asset.startswith("/") and not asset.startswith("//"), asset  # same origin: 'self'
        if asset.startswith("/static/"):
            assert finders.find(re.sub(r"^/static/", "", asset.split("?")[0])), asset


def test_the_admin_login_page_works_under_the_policy(client):
    _assert_works_under_the_policy(client.get("/admin/login/"))


def test_an_admin_changelist_works_under_the_policy(admin_client, merchant):
    PaymentFactory(merchant=merchant)

    _assert_works_under_the_policy(admin_client.get(reverse("admin:payments_payment_changelist")))
    _assert_works_under_the_policy(admin_client.get(reverse("admin:merchants_merchant_change", args=[merchant.pk])))


def test_the_api_docs_work_offline_under_the_policy(client):
    page = client.get("/api/docs/")

    _assert_works_under_the_policy(page)  # every asset from our own static files, no CDN
    assert "img-src 'self' data:" in page["Content-Security-Policy"]  # Swagger UI's icons
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    assert "/api/schema/" in script.content.decode()
