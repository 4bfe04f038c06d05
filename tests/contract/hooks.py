"""schemathesis hooks for tests/contract (loaded through SCHEMATHESIS_HOOKS).

Every valid Idempotency-Key schemathesis generates is made unique before it is sent. The fuzzer
draws the same few keys ("0", "00", ...) for many different requests, and the server rightly
answers those 422 idempotency_key_reused: a fact about the history of the key, not about the
request. Invalid keys are sent as generated, so their refusal is still tested; replays have
tests of their own (tests/core/test_idempotency.py)."""

import re
import uuid

import schemathesis

_VALID_KEY = re.compile(r"[!-~]([ -~]*[!-~])?")  # core.api.schema.IDEMPOTENCY_KEY_SCHEMA
_MAX_KEY = 255


@schemathesis.hook
def before_call(context, case, kwargs):
    headers = case.headers or {}
    for name, value in list(headers.items()):
        valid = isinstance(value, str) and _VALID_KEY.fullmatch(value) and len(value) <= _MAX_KEY
        if name.lower() == "idempotency-key" and valid:
            headers[name] = unique_key(value)


def unique_key(key: str) -> str:
    """The key with a unique tail, still valid and of the same length where it can be."""
    tail = uuid.uuid4().hex
    if len(key) + len(tail) <= _MAX_KEY:
        return key + tail
    return key[: len(key) - len(tail)] + tail
