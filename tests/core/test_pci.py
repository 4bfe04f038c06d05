"""core.pci: what counts as a card number, and the one masking function; the refusal middleware,
the log filter and the Sentry scrubber built on them."""

import json
import logging
import time

import pytest

from core.logging import MaskingFilter
from core.pci import card_number_spans, find_card_numbers, looks_like_card_number, mask, mask_data, sentry_before_send

PAN = "4242424242424242"
ZWSP, ZWNJ, ZWJ, WJ, BOM, NBSP, NNBSP = "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00a0", "\u202f"


def _in_groups(pan: str, separator: str, size: int = 4) -> str:
    return separator.join(pan[i : i + size] for i in range(0, len(pan), size))


def _with_check_digit(body: str) -> str:
    """`body` plus the digit that makes it pass Luhn (written here independently of core.pci)."""
    total = 0
    for position, char in enumerate(reversed(body)):
        value = int(char) * (2 if position % 2 == 0 else 1)
        total += value - 9 if value > 9 else value
    return body + str(-total % 10)


def _in_script(pan: str, zero: str) -> str:
    return "".join(chr(ord(zero) + int(digit)) for digit in pan)


DETECTED = {
    "plain": PAN,
    "spaces": _in_groups(PAN, " "),
    "dashes": _in_groups(PAN, "-"),
    "dots": _in_groups(PAN, "."),
    "slashes": _in_groups(PAN, "/"),
    "underscores": _in_groups(PAN, "_"),
    "commas": _in_groups(PAN, ","),
    "zero-width-space": _in_groups(PAN, ZWSP),
    "zero-width-non-joiner": _in_groups(PAN, ZWNJ),
    "zero-width-joiner": _in_groups(PAN, ZWJ),
    "word-joiner": _in_groups(PAN, WJ),
    "bom": _in_groups(PAN, BOM),
    "no-break-space": _in_groups(PAN, NBSP),
    "narrow-no-break-space": _in_groups(PAN, NNBSP),
    "ideographic-space": _in_groups(PAN, "\u3000"),
    "tab-and-newline": "4242\t4242\n4242\r\n4242",
    "zero-width-between-every-digit": ZWSP.join(PAN),
    "several-separators": "4242 - 4242 .. 4242 / 4242",
    "after-a-colon": f"pan:{PAN}",
    "the-parts-of-a-time-without-colons": "03 20 100001 00 00",
    "combining-mark": "4\u0301" + PAN[1:],
    "fullwidth": _in_script(PAN, "\uff10"),
    "arabic-indic": _in_script(PAN, "\u0660"),
    "extended-arabic-indic": _in_script(PAN, "\u06f0"),
    "devanagari": _in_script(PAN, "\u0966"),
    "mathematical-bold": _in_script(PAN, "\U0001d7ce"),
    "superscripts": PAN.translate(str.maketrans("0123456789", "⁰¹²³⁴⁵⁶⁷⁸⁹")),
    "mixed-scripts": "4\uff12\u06642 \uff14\u096842" + ZWSP + "4242-\u0664\u0662\u0664\u0662",
    "in-a-sentence": "paid with 4111 1111 1111 1111, thanks",
    "after-a-prefix": f"tok_{PAN}",
    "in-a-url": f"/api/v1/payments/{PAN}/refunds",
    "query-string": f"reference={PAN}&x=1",
    "after-other-digits": f"order 12 {PAN}",
    "amex-15": "378282246310005",
    "visa-13": "4222222222222",
    "19-digits": _with_check_digit("601100099013942400"),
    "json-text": json.dumps({"note": PAN}),
    "beside-a-uuid": f"550e8400-e29b-41d4-a716-446655440000 {PAN}",
    "uuid-shape-but-not-hex": "4242-4242-4242-4242-4242x",
}

NOT_DETECTED = {
    "luhn-invalid": "4242424242424241",
    "luhn-invalid-spaced": "4242 4242 4242 4241",
    "twelve-digits": "424242424242",
    "twenty-digits-unbroken": "42424242424242424242",
    "long-unbroken-run": "1" * 40,
    "amount": "99999999999",
    "glued-to-letters-before": f"x{PAN}",
    "glued-to-letters-after": f"{PAN}x",
    "hex-mac": "a4242424242424242f0e1",
    "uuid": "550e8400-e29b-41d4-a716-446655440000",
    # Random UUIDs whose all-digit groups join into 16 digits passing Luhn.
    "uuid-with-digit-groups": "83141530-1409-4305-9f5c-a5a3a7e9b24d",
    "uuid-as-idempotency-key": "test-10034152-5430-4608-a8bb-5d5e5a72a447",
    "ulid": "pay_01JDZZZZZZZZZZZZZZZZZZZZZZ",
    "split-by-letters": "4242x4242x4242x4242",
    "circled-digits-too-few": "①②③",
    "empty": "",
    "prose": "A payment of 150.00 BRL, order 1001, on 2025-11-23.",
    "iso-timestamp": "2025-11-23T14:00:00.123456Z",
    # "03 20 100001 00 00" passes Luhn: a colon ends a run, so the parts of a time never join.
    "iso-timestamp-with-offset": "2026-12-04T21:03:20.100001+00:00",
    "time-then-digits": "21:03:20 4242424242",
    "colons": "4242:4242:4242:4242",
}


@pytest.mark.parametrize("text", DETECTED.values(), ids=DETECTED.keys())
def test_a_card_number_is_detected_whatever_its_encoding(text):
    assert looks_like_card_number(text)
    assert find_card_numbers({"field": text}) == ["field"]


@pytest.mark.parametrize("text", NOT_DETECTED.values(), ids=NOT_DETECTED.keys())
def test_other_numbers_are_not_card_numbers(text):
    assert not looks_like_card_number(text)
    assert find_card_numbers({"field": text}) == []


def test_a_card_number_at_the_end_of_a_longer_run_is_found_at_a_separator():
    text = f"12345 {PAN}"

    assert card_number_spans(text) == [(6, 6 + len(PAN))]


def test_detection_is_linear_on_hostile_input():
    # One run of half a million one-digit groups, none of whose stretches pass Luhn: every
    # candidate is examined, and the scan still takes about a second per MiB.
    hostile = "1 " * 500_000
    started = time.perf_counter()
    assert not looks_like_card_number(hostile)
    assert time.perf_counter() - started < 5


def test_a_card_number_used_as_a_key_is_not_repeated_in_the_paths():
    paths = find_card_numbers({"metadata": {PAN: PAN}})

    assert paths == ["metadata", "metadata.424242******4242"]


@pytest.mark.parametrize("text", DETECTED.values(), ids=DETECTED.keys())
def test_masking_leaves_first_six_and_last_four(text):
    masked = mask(text)

    assert not looks_like_card_number(masked)
    assert text not in masked


def test_masking_keeps_the_rest_of_the_text():
    assert mask("paid with 4111 1111 1111 1111, thanks") == "paid with 411111******1111, thanks"
    assert mask(f"/api/v1/payments/{_in_groups(PAN, ZWSP)}") == "/api/v1/payments/424242******4242"
    assert mask("order 4242424242424241") == "order 4242424242424241"


SECRETS = {
    "api-key": ("key sk_live_0123456789abcdefghij", "key sk_[REDACTED]", "sk_live_0123456789abcdefghij"),
    "api-key-in-query": ("/api/v1/payments?api_key=sk_Zx9-_abcdefgh", "/api/v1/payments?api_key=[REDACTED]", "Zx9-"),
    "publishable-key": ("pk_test_abcdefghijkl", "pk_[REDACTED]", "abcdefghijkl"),
    "webhook-secret": ("whsec_c2VjcmV0LXNlY3JldA==", "whsec_[REDACTED]", "c2VjcmV0"),
    "authorization": ("Authorization: Bearer abcdefghijklmnop", "Authorization: [REDACTED]", "abcdefghijklmnop"),
    "bearer": ("sent Bearer abcdefghijklmnop", "sent Bearer [REDACTED]", "abcdefghijklmnop"),
    "cielo-signature": ("X-Cielo-Signature: t=1700000000,v1=deadbeef00", "X-Cielo-Signature: [REDACTED]", "deadbeef"),
    "getnet-signature-json": (
        '{"X-Getnet-Signature": "sha256=cafe0123"}',
        '{"X-Getnet-Signature": "[REDACTED]"}',
        "cafe",
    ),
    "webhook-signature": ("webhook-signature=v1,abc123==", "webhook-signature=[REDACTED]", "abc123"),
    "password": ("password=hunter2-hunter2", "password=[REDACTED]", "hunter2"),
}


@pytest.mark.parametrize(("text", "masked", "secret"), SECRETS.values(), ids=SECRETS.keys())
def test_secrets_are_redacted(text, masked, secret):
    assert mask(text) == masked
    assert secret not in mask(text)


def test_ordinary_words_are_not_redacted():
    text = "basic validation failed; the token expired; tok_approve; task_id=12"

    assert mask(text) == text


def test_mask_data_masks_keys_values_and_values_under_secret_names():
    data = {
        "headers": {"X-Rede-Signature": "abc==", "Authorization": "Bearer x", "X-Note": _in_groups(PAN, " ")},
        PAN: [PAN, ("api_key=sk_abcdefghij",)],
        "count": 4242424242424242,
    }

    masked = mask_data(data)

    assert masked == {
        "headers": {"X-Rede-Signature": "[REDACTED]", "Authorization": "[REDACTED]", "X-Note": "424242******4242"},
        "424242******4242": ["424242******4242", ["api_key=[REDACTED]"]],
        "count": 4242424242424242,  # numbers are not text: the API refuses them, logs keep them
    }
    assert data["headers"]["X-Note"] == _in_groups(PAN, " ")  # the original is left alone


def test_sentry_events_are_masked_everywhere():
    event = {
        "message": f"Invalid HTTP_HOST header: '{PAN}'",
        "request": {"url": f"http://x/api/v1/payments/{PAN}", "query_string": "api_key=sk_abcdefghijkl"},
        "breadcrumbs": {"values": [{"message": f"card {_in_groups(PAN, ZWSP)}"}]},
        "exception": {"values": [{"value": f"bad {PAN}", "stacktrace": {"frames": [{"vars": {"pan": f"'{PAN}'"}}]}}]},
    }

    scrubbed = json.dumps(sentry_before_send(event, {}), ensure_ascii=False)

    assert PAN not in scrubbed
    assert _in_groups(PAN, ZWSP) not in scrubbed
    assert "sk_abcdefghijkl" not in scrubbed
    assert "424242******4242" in scrubbed


def _formatted(record: logging.LogRecord) -> str:
    from pythonjsonlogger.json import JsonFormatter

    assert MaskingFilter().filter(record)
    return JsonFormatter("%(message)s").format(record)


def test_the_log_filter_masks_message_arguments_extras_and_exceptions():
    try:
        raise ValueError(f"no such card {PAN}")
    except ValueError:
        import sys

        exc_info = sys.exc_info()
    record = logging.LogRecord("x", logging.ERROR, __file__, 1, "Not Found: %s", (f"/p/{PAN}",), exc_info)
    record.path = f"/api/v1/payments/{_in_groups(PAN, NBSP)}?api_key=sk_abcdefghijkl"
    record.request = type("Request", (), {"__str__": lambda self: f"<WSGIRequest: GET '/x?reference={PAN}'>"})()
    record.nested = {"note": [PAN]}

    line = _formatted(record)

    assert PAN not in line
    assert "4242\\u00a04242" not in line and NBSP not in line
    assert "sk_abcdefghijkl" not in line
    assert line.count("424242******4242") == 5, line


def test_the_log_filter_is_on_the_root_handler():
    from django.conf import settings

    console = settings.LOGGING["handlers"]["console"]
    assert "mask_sensitive" in console["filters"]
    assert settings.LOGGING["root"]["handlers"] == ["console"]
    assert settings.LOGGING["filters"]["mask_sensitive"]["()"] == "core.logging.MaskingFilter"


# --- the refusal middleware, through Django's test client -----------------------------------------
def _assert_refused(response, field: str):
    assert response.status_code == 400, response.content
    assert response["Content-Type"] == "application/problem+json"
    body = response.json()
    assert body["code"] == "card_number_rejected"
    assert body["type"] == "https://docs.payments-core.example/errors/card_number_rejected"
    assert body["status"] == 400
    assert [error["field"] for error in body["errors"]] == [field]
    assert PAN not in response.content.decode()


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("path", "field"),
    [
        (f"/api/v1/payments/{PAN}", "path"),
        (f"/api/v1/payments/{_in_groups(PAN, '.')}/refunds", "path"),
        (f"/api/v1/payments?reference={_in_groups(PAN, '%E2%80%8B')}", "query.reference"),
        (f"/api/v1/payments?{PAN}=1", "query"),
        (f"/webhooks/providers/cielo/?n={PAN}", "query.n"),
        (f"/admin/?q={PAN}", "query.q"),
        (f"/health/live/{PAN}", "path"),
    ],
)
def test_a_card_number_in_the_path_or_query_is_refused(api, path, field):
    _assert_refused(api.get(path), field)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header", ["HTTP_IDEMPOTENCY_KEY", "HTTP_X_REQUEST_ID", "HTTP_X_CUSTOMER_NOTE", "HTTP_REFERER", "HTTP_COOKIE"]
)
def test_a_card_number_in_a_header_is_refused(api, header):
    response = api.post("/api/v1/payments", {}, format="json", **{header: f"x {_in_groups(PAN, '-')}"})

    name = "-".join(part.capitalize() for part in header.removeprefix("HTTP_").split("_"))
    _assert_refused(response, f"header.{name}")
    assert response["X-Request-ID"].startswith("req_")  # a card number is never adopted as the id


@pytest.mark.django_db
def test_a_header_sent_as_utf8_is_read_as_utf8(api):
    # WSGI hands header bytes over as Latin-1: a zero-width space arrives as three letters.
    mojibake = _in_groups(PAN, ZWSP).encode().decode("latin-1")

    _assert_refused(api.get("/api/v1/payments", HTTP_X_NOTE=mojibake), "header.X-Note")


@pytest.mark.django_db
def test_a_provider_timestamp_that_is_the_time_now_is_not_a_card_number(client):
    # Of ten numbers that differ only in their last digit, exactly one passes Luhn.
    tens = int(time.time() * 1000) // 10 * 10
    luhn_valid_now = next(str(ms) for ms in range(tens, tens + 10) if looks_like_card_number(str(ms)))

    accepted = client.post(
        "/webhooks/providers/getnet/", b"{}", "application/json", HTTP_X_GETNET_TIMESTAMP=luhn_valid_now
    )
    refused = client.post("/webhooks/providers/getnet/", b"{}", "application/json", HTTP_X_GETNET_TIMESTAMP=PAN)

    assert accepted.json()["code"] != "card_number_rejected"  # refused later, for its missing signature
    _assert_refused(refused, "header.X-Getnet-Timestamp")


@pytest.mark.django_db
def test_a_card_number_in_a_notification_body_is_refused_and_not_kept(client):
    from webhooks.models import InboundNotification

    for body in (json.dumps({"card": _in_groups(PAN, " ")}), json.dumps({"card": _in_groups(PAN, ZWSP)})):
        _assert_refused(client.post("/webhooks/providers/cielo/", body, "application/json"), "body")

    assert not InboundNotification.objects.exists()


@pytest.mark.django_db
def test_a_card_number_in_an_admin_form_is_refused(admin_client):
    from merchants.models import Merchant

    response = admin_client.post("/admin/merchants/merchant/add/", {"name": f"Shop {_in_groups(PAN, NBSP)}"})

    _assert_refused(response, "form.name")
    assert not Merchant.objects.filter(name__contains="4242").exists()


@pytest.mark.django_db
def test_the_stored_request_path_is_masked(api, merchant):
    from core.models import IdempotencyKey

    response = api.post(
        "/api/v1/wallets?api_key=sk_abcdefghijklmnop", {"currency": "BRL"}, format="json", HTTP_IDEMPOTENCY_KEY="k-1"
    )

    assert response.status_code == 201, response.content
    assert IdempotencyKey.objects.get(merchant=merchant).request_path == "/api/v1/wallets?api_key=[REDACTED]"


@pytest.mark.django_db
def test_a_card_number_in_the_body_claims_no_idempotency_key(api, merchant):
    from core.models import IdempotencyKey

    response = api.post(
        "/api/v1/wallets",
        {"currency": "BRL", "owner_reference": _in_groups(PAN, ZWSP)},
        format="json",
        HTTP_IDEMPOTENCY_KEY="k-1",
    )

    assert response.json()["code"] == "card_number_rejected"
    assert not IdempotencyKey.objects.filter(merchant=merchant).exists()
