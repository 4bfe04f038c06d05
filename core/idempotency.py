"""Idempotency for every POST under /api/v1/ (the contract's rules):

- no key: 400 idempotency_key_required;
- the same merchant, key and request (method, path, body) again: the stored response, replayed
  unchanged with `Idempotent-Replayed: true` (errors included);
- the same key with a different request: 422 idempotency_key_reused;
- the same key while the first request still runs: the duplicate waits up to
  IDEMPOTENCY_WAIT_SECONDS for it to finish and replays its answer, then gives up with
  409 idempotency_key_in_use.

The key is claimed by inserting a row under a unique constraint, never by check-then-insert.
5xx answers and retryable conflicts (another operation on the object still running) are not
stored: the key is released so that a retry can run again (services re-check the state of what
they change, so running again is safe).
"""

import contextlib
import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models.functions import Now

from core.errors import ApplicationError, Conflict, Unprocessable
from core.pci import mask

from .models import IdempotencyKey


class IdempotencyKeyRequired(ApplicationError):
    status = 400
    code = "idempotency_key_required"
    title = "Idempotency-Key header required"


class IdempotencyKeyInvalid(ApplicationError):
    status = 400
    code = "idempotency_key_invalid"
    title = "Idempotency-Key header is not valid"


class IdempotencyKeyReused(Unprocessable):
    code = "idempotency_key_reused"
    title = "Idempotency-Key already used for a different request"


class IdempotencyKeyInUse(Conflict):
    code = "idempotency_key_in_use"
    title = "A request with this Idempotency-Key is still in progress"


@dataclass(frozen=True)
class StoredResponse:
    status: int
    body: str
    content_type: str
    replayed: bool


def validate_key(raw: str | None) -> str:
    if raw is None or raw == "":
        raise IdempotencyKeyRequired("Send an Idempotency-Key header (1 to 255 printable characters) with every POST.")
    if len(raw) > 255 or not all(" " <= ch <= "~" for ch in raw):
        raise IdempotencyKeyInvalid("The Idempotency-Key must be 1 to 255 printable ASCII characters.")
    return raw


def fingerprint(*, method: str, path: str, body: bytes) -> str:
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), body):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def run_idempotently(
    *,
    merchant_id: str,
    key: str,
    method: str,
    path: str,
    body: bytes,
    handler: Callable[[], tuple[int, str, str, bool]],
) -> StoredResponse:
    """Runs `handler` at most once per (merchant, key) and request. The handler returns the
    rendered answer: (status, body text, content type, whether the answer may be stored)."""
    request_fingerprint = fingerprint(method=method, path=path, body=body)
    record = _claim(merchant_id=merchant_id, key=key, method=method, path=path, request_fingerprint=request_fingerprint)
    if record is not None:
        return record
    try:
        status, response_body, content_type, storable = handler()
    except BaseException:
        _release(merchant_id=merchant_id, key=key)
        raise
    if status >= 500 or not storable:
        _release(merchant_id=merchant_id, key=key)
    else:
        IdempotencyKey.objects.filter(merchant_id=merchant_id, key=key).update(
            state=IdempotencyKey.State.COMPLETED,
            response_status=status,
            response_body=response_body,
            response_content_type=content_type,
            completed_at=Now(),
        )
    return StoredResponse(status=status, body=response_body, content_type=content_type, replayed=False)


def _claim(*, merchant_id, key, method, path, request_fingerprint) -> StoredResponse | None:
    """None when this request now owns the key; otherwise the response to give instead."""
    try:
        # One INSERT, committed on its own (autocommit): the claim must be visible to concurrent
        # duplicates before the request's real work starts. (Inside an enclosing transaction, as
        # in some tests, a savepoint keeps that transaction usable after a duplicate.)
        nested = transaction.get_connection().in_atomic_block
        with transaction.atomic() if nested else contextlib.nullcontext():
            IdempotencyKey.objects.create(
                merchant_id=merchant_id,
                key=key,
                request_method=method,
                # For operators to read: card numbers and secrets (`?api_key=`) masked.
                request_path=mask(path)[:2048],
                request_fingerprint=request_fingerprint,
            )
        return None
    except IntegrityError:
        pass

    deadline = time.monotonic() + settings.IDEMPOTENCY_WAIT_SECONDS
    pause = 0.01
    while True:
        existing = IdempotencyKey.objects.filter(merchant_id=merchant_id, key=key).first()
        if existing is None:  # released by a failed first attempt: claim it afresh
            return _claim(
                merchant_id=merchant_id, key=key, method=method, path=path, request_fingerprint=request_fingerprint
            )
        if existing.request_fingerprint != request_fingerprint:
            raise IdempotencyKeyReused(
                "This Idempotency-Key was used with a different request (method, path or body). Use a new key."
            )
        if existing.state == IdempotencyKey.State.COMPLETED:
            return StoredResponse(
                status=existing.response_status,
                body=existing.response_body,
                content_type=existing.response_content_type,
                replayed=True,
            )
        if _take_over_if_abandoned(existing):
            return None
        if time.monotonic() >= deadline:
            raise IdempotencyKeyInUse("The first request with this Idempotency-Key has not finished yet. Retry later.")
        time.sleep(pause)
        pause = min(pause * 2, 0.1)


def _take_over_if_abandoned(existing: IdempotencyKey) -> bool:
    """A key whose owner died mid-request is taken over by exactly one retry (compare-and-set)."""
    stale_before = Now() - timedelta(seconds=settings.IDEMPOTENCY_LOCK_TIMEOUT_SECONDS)
    return bool(
        IdempotencyKey.objects.filter(
            pk=existing.pk,
            state=IdempotencyKey.State.IN_PROGRESS,
            locked_at=existing.locked_at,
            locked_at__lt=stale_before,
        ).update(locked_at=Now())
    )


def _release(*, merchant_id: str, key: str) -> None:
    IdempotencyKey.objects.filter(merchant_id=merchant_id, key=key, state=IdempotencyKey.State.IN_PROGRESS).delete()


def purge_expired_keys() -> int:
    cutoff = Now() - timedelta(hours=settings.IDEMPOTENCY_KEY_TTL_HOURS)
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
