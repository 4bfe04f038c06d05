"""What the adapters share to read a provider's signed notification: header lookup, the MAC and
timestamp checks, and reading fields of the untrusted body, where any surprise becomes
InvalidNotification("malformed") rather than an exception the caller did not expect.

Order of checks, in every adapter: the signature over the raw bytes first, then the timestamp
(which the signature covers, so only then can it be trusted), and only then the body is read.
"""

import hmac
import re
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from core import safejson
from providers.port import InvalidNotification

# A provider's clock may run a little ahead of ours; more than this is refused as a future timestamp.
FUTURE_SKEW_SECONDS = 60.0

_DIGITS = re.compile(r"[0-9]{1,16}")
_ID = re.compile(r"[A-Za-z0-9._:\-]{1,64}")

# Card networks' chargeback reason codes (Visa, Mastercard), as the acquirers pass them on, to
# the reasons we show (Stripe's vocabulary). Anything else is "general".
DISPUTE_REASONS = {
    "10.4": "fraudulent",
    "4837": "fraudulent",
    "4863": "fraudulent",
    "13.1": "product_not_received",
    "4855": "product_not_received",
    "13.3": "product_unacceptable",
    "4853": "product_unacceptable",
    "12.6.1": "duplicate",
    "4834": "duplicate",
    "13.6": "credit_not_processed",
    "4860": "credit_not_processed",
}


def dispute_reason(code: str) -> str:
    return DISPUTE_REASONS.get(code, "general")


def header(headers: Mapping[str, str], name: str) -> str:
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), "")


def digits(value: str, what: str) -> int:
    if not _DIGITS.fullmatch(value):
        raise InvalidNotification("invalid_signature", f"{what} must be a number")
    return int(value)


def require_mac(secret: str, message: bytes, given: bytes, digest: Callable[..., Any]) -> None:
    """The MAC of `message` under `secret` must be `given`; an empty secret trusts nothing."""
    expected = hmac.new(secret.encode(), message, digest).digest()
    if not secret or not hmac.compare_digest(expected, given):
        raise InvalidNotification("invalid_signature", "The signature does not match the body.")


def hex_bytes(value: str) -> bytes:
    try:
        return bytes.fromhex(value)
    except ValueError:
        raise InvalidNotification("invalid_signature", "The signature is not hexadecimal.") from None


def require_fresh(timestamp: float, *, now: float, tolerance_seconds: float) -> None:
    if timestamp < now - tolerance_seconds:
        raise InvalidNotification("stale_timestamp", f"Signed {now - timestamp:.0f} s ago: too old to be trusted.")
    if timestamp > now + FUTURE_SKEW_SECONDS:
        raise InvalidNotification("future_timestamp", f"Signed {timestamp - now:.0f} s in the future.")


@contextmanager
def reading() -> Iterator[None]:
    """Any failure while reading the (already authenticated) body means we cannot read it."""
    try:
        yield
    except InvalidNotification:
        raise
    except (KeyError, IndexError, TypeError, ValueError, AttributeError, OverflowError) as exc:
        raise InvalidNotification("malformed", f"Unreadable notification: {exc!r}"[:300]) from None


def json_object(body: bytes) -> dict[str, Any]:
    data = safejson.loads(body)
    if not isinstance(data, dict):
        raise ValueError("the body is not a JSON object")
    return data


def object_at(data: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = data[key]
    if not isinstance(value, dict):
        raise TypeError(f"{key} must be an object")
    return value


def identifier(data: Mapping[str, Any], key: str, *, required: bool = True) -> str:
    """An id (ours or the provider's): letters, digits and . _ : -, at most 64 characters."""
    value = data.get(key)
    if value in (None, "") and not required:
        return ""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise ValueError(f"{key} must be an id")
    return value


def text(data: Mapping[str, Any], key: str, *, limit: int = 500) -> str:
    value = data.get(key, "")
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise TypeError(f"{key} must be text")
    return str(value)[:limit]


def amount(data: Mapping[str, Any], key: str) -> int:
    value = data[key]
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ValueError(f"{key} must be a positive integer")
    return value


def currency(data: Mapping[str, Any], key: str) -> str:
    value = data.get(key, "")
    if value and (not isinstance(value, str) or not re.fullmatch(r"[A-Z]{3}", value)):
        raise ValueError(f"{key} must be a currency code")
    return value


def end_of_day(value: str) -> datetime:
    """A due date without a time of day (`2024-05-31`): the end of that day, UTC."""
    return datetime.combine(date.fromisoformat(value), time.min, tzinfo=UTC) + timedelta(days=1)


def instant(value: str) -> datetime:
    """An RFC 3339 timestamp; one without a zone is refused."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError(f"{value!r} has no time zone")
    return parsed.astimezone(UTC)
