"""Refuses, before any view, session, log line or store sees it, a request that carries a card
number (core.pci's rule) where a client can write text outside a JSON body: the URL path, the
query string (names and values) and the headers (names and values); and, on the admin, the
fields of a submitted form, and the body of a provider's notification (/webhooks/: anyone can
post one, and refused ones are kept for audit). JSON bodies of the API are checked by the API
views themselves (core.api.views), field by field after parsing.

The answer is 400 application/problem+json with code `card_number_rejected`, naming where the
card number was (`path`, `query.<name>`, `header.<name>`, `form.<name>`, `body`), never the number itself.

Not checked: the Host header (ALLOWED_HOSTS refuses any host that is not ours, and no host of
ours looks like a card number), and a provider's notification timestamp header while it holds
the current time in Unix milliseconds (13 digits, which would pass Luhn one time in ten): a
clock reading is not a card number, and any other value in that header is checked.
"""

import json
import logging
import time

from django.conf import settings
from django.http import HttpResponse

from .pci import find_card_numbers, looks_like_card_number, mask

logger = logging.getLogger("payments_core.pci")

PROBLEM_CONTENT_TYPE = "application/problem+json"
_NOT_CHECKED_HEADERS = {"HTTP_HOST"}
_CLOCK_HEADERS = {"HTTP_X_GETNET_TIMESTAMP"}
_CLOCK_SKEW_MS = 24 * 3600 * 1000
# Admin form fields that are secrets the operator types (a password may be all digits).
_NOT_CHECKED_FORM_FIELDS = {"csrfmiddlewaretoken", "password", "password1", "password2", "old_password"}


def _is_current_unix_millis(value: str) -> bool:
    return value.isascii() and value.isdigit() and abs(int(value) - time.time() * 1000) < _CLOCK_SKEW_MS


def _as_sent(value: str) -> str:
    """A header value as the client wrote it: WSGI hands header bytes over decoded as Latin-1, so
    UTF-8 text (a zero-width space, fullwidth digits) arrives as mojibake that hides its digits."""
    try:
        return value.encode("latin-1").decode("utf-8")
    except UnicodeError:
        return value


def _header_name(meta_key: str) -> str:
    name = meta_key.removeprefix("HTTP_")
    return "-".join(part.capitalize() for part in name.split("_"))


def card_number_locations(request) -> list[str]:
    """Where in the request (outside a JSON body) a card number is, e.g. ['query.reference']."""
    found = []
    if looks_like_card_number(request.path) or looks_like_card_number(request.path_info):
        found.append("path")
    for name, values in request.GET.lists():
        if looks_like_card_number(name):
            found.append("query")
        elif any(looks_like_card_number(value) for value in values):
            found.append(f"query.{name[:64]}")
    for key, value in request.META.items():
        if not (key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH")):
            continue
        if key in _NOT_CHECKED_HEADERS or (key in _CLOCK_HEADERS and _is_current_unix_millis(value)):
            continue
        if looks_like_card_number(key):
            found.append("header")
        elif isinstance(value, str) and looks_like_card_number(_as_sent(value)):
            found.append(f"header.{_header_name(key)}")
    if request.path_info.startswith("/admin/") and request.method == "POST":
        for name, values in request.POST.lists():
            if name in _NOT_CHECKED_FORM_FIELDS:
                continue
            if looks_like_card_number(name):
                found.append("form")
            elif any(looks_like_card_number(value) for value in values):
                found.append(f"form.{name[:64]}")
    if request.path_info.startswith("/webhooks/") and _notification_body_has_one(request):
        found.append("body")
    return sorted(set(found))


def _notification_body_has_one(request) -> bool:
    try:
        size = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    if not 0 < size <= settings.PROVIDER_WEBHOOK_MAX_BODY_BYTES:
        return False  # over the cap the body is never read, nor kept
    text = request.body.decode("utf-8", "replace")
    if looks_like_card_number(text):
        return True
    try:  # JSON can write a separator as an escape (\u200b): read the values themselves too
        return bool(find_card_numbers(json.loads(text)))
    except (ValueError, RecursionError):
        return False


def card_number_refused(locations: list[str]) -> HttpResponse:
    """The same problem body the API's exception handler renders for `card_number_rejected`."""
    body = {
        "type": "https://docs.payments-core.example/errors/card_number_rejected",
        "title": "The request is not valid",
        "status": 400,
        "detail": "Card numbers are never accepted: tokenize the card and send its token.",
        "code": "card_number_rejected",
        "errors": [
            {"field": location, "code": "card_number_rejected", "detail": "Looks like a card number."}
            for location in locations
        ],
    }
    return HttpResponse(json.dumps(body), status=400, content_type=PROBLEM_CONTENT_TYPE)


class CardNumberRefusalMiddleware:
    """Placed right after RequestContextMiddleware: the refused request still gets its request
    id and its (masked) request log line, and nothing after this sees it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        locations = card_number_locations(request)
        if not locations:
            return self.get_response(request)
        logger.warning(
            "request refused: it carries a card number", extra={"locations": locations, "path": mask(request.path)}
        )
        response = card_number_refused(locations)
        # Django's own "Bad Request: <path>" line would repeat the path; ours above says it all.
        response._has_been_logged = True
        return response
