"""The proof: one card number, written a dozen ways, sent through every place a client can write
text (body fields, headers, URL path, query string, admin form, provider notification) to the
real server (gunicorn, production settings, Sentry on). Every request is refused with a 4xx, and
afterwards the number is nowhere: not in any table, not in any log line, not in any Sentry event.
`?api_key=sk_...` is never logged verbatim either."""

import gzip
import json
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from subprocess import run

import pytest
from django.db import connection

from merchants.services import api_key_issue
from tests.factories import MerchantFactory

PAN = "4242424242424242"
ZWSP, NBSP, NNBSP = "\u200b", "\u00a0", "\u202f"


def _groups(separator: str) -> str:
    return separator.join(PAN[i : i + 4] for i in range(0, 16, 4))


def _script(zero: str) -> str:
    return "".join(chr(ord(zero) + int(digit)) for digit in PAN)


ENCODINGS = {
    "plain": PAN,
    "spaces": _groups(" "),
    "dashes": _groups("-"),
    "dots": _groups("."),
    "slashes": _groups("/"),
    "underscores": _groups("_"),
    "commas": _groups(","),
    "zero-width-spaces": _groups(ZWSP),
    "zero-width-every-digit": ZWSP.join(PAN),
    "no-break-spaces": _groups(NBSP),
    "narrow-no-break-spaces": _groups(NNBSP),
    "word-joiners": _groups("\u2060"),
    "fullwidth": _script("\uff10"),
    "arabic-indic": _script("\u0660"),
    "devanagari": _script("\u0966"),
    "mixed": "4\uff12\u06642 \uff14\u096842" + ZWSP + "4242-\u0664\u0662\u0664\u0662",
}
SECRET_KEY_IN_QUERY = "sk_live_proofQueryKey0123456789abcdef"


class _SentryReceiver(BaseHTTPRequestHandler):
    """Sentry's ingestion endpoint, as far as the SDK can tell: keeps every envelope it is sent."""

    received: list[str] = []

    def do_POST(self):
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.headers.get("Content-Encoding") == "gzip":
            raw = gzip.decompress(raw)
        self.received.append(raw.decode("utf-8", "replace"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def sentry_receiver():
    _SentryReceiver.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _SentryReceiver)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _envelope_text(envelope: str) -> str:
    """The envelope as sent, plus every string inside its JSON items unescaped (the SDK writes
    non-ASCII characters as \\u escapes)."""
    strings = [envelope]
    for line in envelope.splitlines():
        try:
            stack = [json.loads(line)]
        except ValueError:
            continue
        while stack:
            item = stack.pop()
            if isinstance(item, dict):
                strings.extend(str(key) for key in item)
                stack.extend(item.values())
            elif isinstance(item, list):
                stack.extend(item)
            elif isinstance(item, str):
                strings.append(item)
    return "\n".join(strings)


def _needles() -> dict[str, str]:
    """Every way the number could have been written down: each encoding as it is, JSON-escaped,
    percent-encoded and as hex of its UTF-8 (bytea columns), and the plain digits."""
    needles = {}
    for name, text in {**ENCODINGS, "digits": PAN}.items():
        needles[name] = text
        needles[f"{name} (json)"] = json.dumps(text)[1:-1]
        needles[f"{name} (percent-encoded)"] = urllib.parse.quote(text)
        needles[f"{name} (percent-encoded, +)"] = urllib.parse.quote_plus(text)
        needles[f"{name} (hex)"] = text.encode().hex()
    return needles


def _found(haystack: str) -> list[str]:
    return [name for name, needle in _needles().items() if needle in haystack]


def _payment(**overrides) -> dict:
    return {"amount": 1000, "currency": "BRL", "payment_method": {"type": "card", "token": "tok_approve"}, **overrides}


def _requests(pan: str, api_key: str) -> list[tuple[str, dict]]:
    """(what, httpx request arguments) for each place a client can put `pan`."""
    auth = {"Authorization": f"Bearer {api_key}"}

    def post(path: str, body: dict, **headers) -> dict:
        data = json.dumps(body, ensure_ascii=False).encode()
        sent = {"Idempotency-Key": f"proof-{time.monotonic_ns()}", "Content-Type": "application/json", **auth}
        return {"method": "POST", "url": path, "content": data, "headers": {**sent, **headers}}

    def header(name: str) -> dict:
        return post("/api/v1/payments", _payment(), **{name: f"note {pan}".encode()})

    return [
        ("body reference", post("/api/v1/payments", _payment(reference=pan))),
        ("body description", post("/api/v1/payments", _payment(description=f"paid with {pan}"))),
        ("body metadata value", post("/api/v1/payments", _payment(metadata={"note": pan}))),
        ("body metadata key", post("/api/v1/payments", _payment(metadata={pan: "x"}))),
        ("body token", post("/api/v1/payments", _payment(payment_method={"type": "card", "token": pan}))),
        ("body unknown field", post("/api/v1/payments", _payment(pan=pan))),
        ("body wallet owner", post("/api/v1/wallets", {"currency": "BRL", "owner_reference": pan})),
        ("body, escaped JSON", {**post("/api/v1/payments", {}), "content": json.dumps(_payment(reference=pan))}),
        (
            "header Idempotency-Key",
            {
                **post("/api/v1/payments", _payment()),
                "headers": {**auth, "Content-Type": "application/json", "Idempotency-Key": pan.encode()},
            },
        ),
        ("header X-Request-ID", header("X-Request-ID")),
        ("header custom", header("X-Customer-Note")),
        ("header Referer", header("Referer")),
        ("path", {"method": "GET", "url": f"/api/v1/payments/{pan}", "headers": auth}),
        ("path action", post(f"/api/v1/payments/{pan}/capture", {})),
        ("query value", {"method": "GET", "url": "/api/v1/payments", "params": {"reference": pan}, "headers": auth}),
        ("query name", {"method": "GET", "url": "/api/v1/payments", "params": {pan: "1"}, "headers": auth}),
        (
            "query with api_key",
            {"method": "GET", "url": "/api/v1/payments", "params": {"api_key": SECRET_KEY_IN_QUERY, "q": pan}},
        ),
        (
            "notification body",
            {
                "method": "POST",
                "url": "/webhooks/providers/cielo/",
                "content": json.dumps({"card": pan}, ensure_ascii=False).encode(),
                "headers": {"Content-Type": "application/json"},
            },
        ),
        (
            "notification query",
            {
                "method": "POST",
                "url": "/webhooks/providers/rede/",
                "params": {"ref": pan},
                "content": b"{}",
                "headers": {"Content-Type": "application/json"},
            },
        ),
        (
            "notification signature",
            {
                "method": "POST",
                "url": "/webhooks/providers/getnet/",
                "content": b"{}",
                "headers": {"Content-Type": "application/json", "X-Getnet-Signature": f"sha256={pan}".encode()},
            },
        ),
        ("admin login form", {"method": "POST", "url": "/admin/login/", "data": {"username": pan, "password": "x"}}),
        ("admin search", {"method": "GET", "url": "/admin/payments/payment/", "params": {"q": pan}}),
    ]


# Requests whose only card number is in the Host header: Django refuses the host and logs an
# error (django.security.DisallowedHost), which Sentry sends as an event carrying the request.
HOSTS = [ENCODINGS[name] for name in ("plain", "dashes", "dots", "underscores")]


def test_a_card_number_is_refused_everywhere_and_kept_nowhere(
    gunicorn_server, gunicorn_server_with, sentry_receiver, caplog
):
    merchant = MerchantFactory()
    api_key = api_key_issue(merchant=merchant)
    server = gunicorn_server_with(
        SENTRY_DSN=f"http://public@127.0.0.1:{sentry_receiver.server_port}/1",
        LOG_LEVEL="INFO",
        RATE_LIMIT_API="1000000/s",
        RATE_LIMIT_ANONYMOUS="1000000/s",
        RATE_LIMIT_PROVIDER_WEBHOOKS="1000000/s",
    )

    answers = []
    with server.client() as client:
        for encoding, pan in ENCODINGS.items():
            for what, request in _requests(pan, api_key):
                response = client.request(**request)
                answers.append((encoding, what, response))
        for host in HOSTS:
            params = {"api_key": SECRET_KEY_IN_QUERY}
            answers.append(("host", host, client.get("/api/v1/payments", params=params, headers={"Host": host})))
        # No card number, a key in the query: refused (unknown parameter) and logged, never with the key.
        api_key_in_query = client.get(
            "/api/v1/payments", params={"api_key": SECRET_KEY_IN_QUERY}, headers={"Authorization": f"Bearer {api_key}"}
        )
    assert api_key_in_query.json()["code"] == "validation_error", api_key_in_query.text

    assert len(answers) == len(ENCODINGS) * len(_requests(PAN, api_key)) + len(HOSTS)
    for encoding, what, response in answers:
        assert 400 <= response.status_code < 500, (encoding, what, response.status_code, response.text)
        if encoding != "host":
            assert response.json()["code"] == "card_number_rejected", (encoding, what, response.text)
        assert _found(response.text) == [], (encoding, what, response.text)

    # Sentry got the Host errors, each carrying the request, and masked.
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and sum("DisallowedHost" in e for e in _SentryReceiver.received) < len(HOSTS):
        time.sleep(0.2)
    events = [_envelope_text(envelope) for envelope in _SentryReceiver.received]
    host_events = [event for event in events if "DisallowedHost" in event]
    assert len(host_events) >= len(HOSTS), events
    assert all("424242******4242" in event for event in host_events)  # the number was there, masked
    assert any('"query_string"' in envelope for envelope in _SentryReceiver.received)
    for event in events:
        assert _found(event) == [], event
        assert SECRET_KEY_IN_QUERY not in event

    # Every table.
    settings = connection.settings_dict
    dump = run(
        [
            "pg_dump",
            "--data-only",
            "-h",
            settings["HOST"] or "127.0.0.1",
            "-p",
            str(settings["PORT"] or 5432),
            "-U",
            settings["USER"],
            settings["NAME"],
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert merchant.id in dump  # the dump is of the database the server wrote to
    assert _found(dump) == []

    # Every log line: both servers', and this process's.
    server_log = server.log()
    assert server_log.count("request refused: it carries a card number") >= len(ENCODINGS) * 10
    assert "Invalid HTTP_HOST header" in server_log
    for log in (server_log, gunicorn_server.log(), caplog.text):
        assert _found(log) == []
        assert SECRET_KEY_IN_QUERY not in log


def test_gunicorn_masks_a_card_number_in_a_request_line_it_cannot_parse(gunicorn_server):
    import socket
    from urllib.parse import urlsplit

    address = urlsplit(gunicorn_server.url)
    with socket.create_connection((address.hostname, address.port), timeout=10) as sock:
        # Spaces inside the target: gunicorn refuses the line itself, before Django, and logs it.
        sock.sendall(f"GET /pay {_groups(' ')} now HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        answer = sock.recv(65536)
    deadline = time.monotonic() + 5
    while "Invalid request" not in gunicorn_server.log() and time.monotonic() < deadline:
        time.sleep(0.1)

    assert answer.startswith(b"HTTP/1.1 400")
    assert "Invalid request" in gunicorn_server.log()  # gunicorn did log the line...
    assert not _found(gunicorn_server.log())  # ...with the number masked
