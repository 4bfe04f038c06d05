"""Opaque, prefixed, time-ordered identifiers (`pay_01JD...`).

The part after the prefix is a ULID: 48 bits of milliseconds then 80 random bits, in Crockford
base32. Ids sort by creation time, which is what cursor pagination orders by, and carry no
information a merchant could use to guess another's.
"""

import os
import time
from datetime import datetime

_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"


def _ulid(at_ms: int | None = None) -> str:
    millis = time.time_ns() // 1_000_000 if at_ms is None else at_ms
    value = millis << 80 | int.from_bytes(os.urandom(10), "big")
    chars = []
    for _ in range(26):
        value, index = divmod(value, 32)
        chars.append(_ALPHABET[index])
    return "".join(reversed(chars))


def new_id(prefix: str, *, at: datetime | None = None) -> str:
    """A new id; `at` mints it for another instant (rows imported or backdated keep their order)."""
    return f"{prefix}_{_ulid(None if at is None else int(at.timestamp() * 1000))}"


# Named factories so that model field defaults are importable by migrations.
def new_merchant_id() -> str:
    return new_id("mer")


def new_payment_id() -> str:
    return new_id("pay")


def new_refund_id() -> str:
    return new_id("re")


def new_event_id() -> str:
    return new_id("evt")


def new_operation_id() -> str:
    return new_id("op")
