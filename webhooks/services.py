"""Receiving providers' notifications and applying them.

`notification_receive` (the view's service) checks the provider, the size, and, through the
provider's adapter, the signature and its timestamp (against the database clock); it stores
every request with its verdict, and an accepted notification once per (provider, event id): the
unique index decides between concurrent deliveries of one event. The request is answered as soon
as the row is committed; a task (webhooks.tasks, queued by the view) applies it afterwards.

`notification_process` locks the row, applies it through payments.notifications in the same
transaction, and records what happened: applied, ignored (nothing left to change), or deferred
(cannot apply yet: retried with backoff, and at once when another notification of the same
payment applies: it returns those, for the task to queue). An error is retried the same way;
after GIVE_UP_AFTER the notification is marked failed for an operator.

The services queue no task themselves: the tasks module imports this one, not the other way.
"""

import dataclasses
import logging
import random
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.cache import cache
from django.db import IntegrityError, connection, transaction
from django.db.models.functions import Now

from core import tracing
from events.selectors import latest_trace_context
from payments import notifications as payment_notifications
from providers import registry
from providers.port import InvalidNotification, NotificationKind, Outcome, ProviderNotification

from .errors import NotificationRefused, NotificationTooLarge, UnknownProvider
from .metrics import REFUSED_NOTIFICATIONS
from .models import OPEN_PROCESSING, InboundNotification, Processing, Rejection, Verdict

logger = logging.getLogger(__name__)

# An accepted notification is applied by the task queued when it is stored; if that task is lost
# (broker down, worker killed), the periodic sweep applies it this long after it arrived.
SWEEP_AFTER = timedelta(seconds=30)
FIRST_RETRY = timedelta(seconds=5)
MAX_RETRY = timedelta(minutes=15)
GIVE_UP_AFTER = timedelta(days=3)
MAX_HEADERS = 50
MAX_HEADER_CHARS = 1_000
_NOT_KEPT_HEADERS = {"cookie", "authorization", "proxy-authorization"}


# --- receiving ----------------------------------------------------------------------------------
def notification_receive(
    *, provider: str, headers: Mapping[str, str], body: bytes, size: int, remote_addr: str | None
) -> InboundNotification:
    """Stores the request and returns the accepted (or duplicate) notification; raises an
    ApplicationError (after storing the request) when it is refused."""
    request = {"headers": _kept(headers), "body_size": size, "remote_addr": remote_addr or None}
    if provider not in registry.PROVIDER_NAMES:
        _reject(provider, request, body, Rejection.UNKNOWN_PROVIDER, f"No provider {provider[:32]!r}.")
        raise UnknownProvider(f"No provider {provider[:32]!r}: use one of {', '.join(registry.PROVIDER_NAMES)}.")
    limit = max_body_bytes()
    if size > limit:
        _reject(provider, request, b"", Rejection.TOO_LARGE, f"{size} bytes, over {limit}.")
        raise NotificationTooLarge(f"Notifications are at most {limit} bytes.")
    try:
        notification = registry.get_provider(provider).verify_notification(
            headers,
            body,
            now=_database_now(),
            tolerance_seconds=settings.PROVIDER_WEBHOOK_TOLERANCE_SECONDS,
        )
    except InvalidNotification as exc:
        reason = exc.reason if exc.reason in Rejection.values else Rejection.MALFORMED
        _reject(provider, request, body, reason, exc.detail)
        raise NotificationRefused(exc.detail, code=reason) from None
    return _accept(provider, request, body, notification)


def max_body_bytes() -> int:
    return settings.PROVIDER_WEBHOOK_MAX_BODY_BYTES


def _kept(headers: Mapping[str, str]) -> dict[str, str]:
    kept = {name: value[:MAX_HEADER_CHARS] for name, value in headers.items() if name.lower() not in _NOT_KEPT_HEADERS}
    return dict(list(kept.items())[:MAX_HEADERS])


def _database_now() -> float:
    with connection.cursor() as cursor:
        cursor.execute("SELECT CURRENT_TIMESTAMP")
        now = cursor.fetchone()[0]
    if isinstance(now, str):  # SQLite (make run) answers in text, in UTC
        now = datetime.fromisoformat(now).replace(tzinfo=UTC)
    return now.timestamp()


def _reject(provider: str, request: dict, body: bytes, reason: str, detail: str) -> None:
    """Keeps a refused request for audit, up to a budget per provider and minute: anyone can send
    them, and a flood must not fill the database. Beyond the budget it is only logged and
    counted."""
    bucket = provider if provider in registry.PROVIDER_NAMES else "unknown"
    REFUSED_NOTIFICATIONS.labels(bucket, reason).inc()
    log = {"provider": provider[:32], "reason": reason, "detail": detail[:500]}
    if not _within_refusal_budget(bucket):
        logger.warning("provider notification refused (not kept: over the budget)", extra=log)
        return
    row = InboundNotification.objects.create(
        provider=provider[:32], body=body, verdict=Verdict.REJECTED, rejection=reason, detail=detail[:500], **request
    )
    logger.warning("provider notification refused", extra={"notification_id": row.id, **log})


def _within_refusal_budget(bucket: str) -> bool:
    key = f"webhooks:refused:{bucket}:{_refusal_window()}"
    try:
        cache.add(key, 0, timeout=120)
        return cache.incr(key) <= settings.PROVIDER_WEBHOOK_REFUSED_KEPT_PER_MINUTE
    except Exception:  # the cache is down: keep the row rather than lose the audit trail
        logger.exception("refused notifications budget unavailable")
        return True


def _refusal_window() -> str:
    return str(int(datetime.now(UTC).timestamp() // 60))


def _accept(provider: str, request: dict, body: bytes, notification: ProviderNotification) -> InboundNotification:
    _trace_notification(provider, notification.payment_reference, kind=str(notification.kind))
    fields = {
        "provider": provider,
        "body": body,
        "event_id": notification.event_id,
        "kind": notification.kind,
        "payment_reference": notification.payment_reference,
        "notification": _to_json(notification),
        **request,
    }
    try:
        with transaction.atomic():
            row = InboundNotification.objects.create(
                verdict=Verdict.ACCEPTED,
                status=Processing.PENDING,
                next_attempt_at=Now() + SWEEP_AFTER,
                **fields,
            )
    except IntegrityError:
        original = InboundNotification.objects.get(
            provider=provider, event_id=notification.event_id, verdict=Verdict.ACCEPTED
        )
        same = bytes(original.body) == body
        row = InboundNotification.objects.create(
            verdict=Verdict.DUPLICATE,
            duplicate_of=original,
            detail="" if same else "Same event id as an earlier notification, with another body.",
            **fields,
        )
        logger.log(
            logging.INFO if same else logging.WARNING,
            "provider notification repeated",
            extra={"notification_id": row.id, "duplicate_of": original.id, "provider": provider, "same_body": same},
        )
        return row
    logger.info(
        "provider notification accepted",
        extra={"notification_id": row.id, "provider": provider, "kind": notification.kind, "event_id": row.event_id},
    )
    return row


def _to_json(notification: ProviderNotification) -> dict:
    data = dataclasses.asdict(notification)
    for name in ("evidence_due_by", "occurred_at"):
        data[name] = data[name].isoformat() if data[name] else None
    data["kind"] = str(notification.kind)
    data["outcome"] = str(notification.outcome) if notification.outcome else None
    return data


def _from_json(data: dict) -> ProviderNotification:
    return ProviderNotification(
        **{
            **data,
            "kind": NotificationKind(data["kind"]),
            "outcome": Outcome(data["outcome"]) if data["outcome"] else None,
            "evidence_due_by": datetime.fromisoformat(data["evidence_due_by"]) if data["evidence_due_by"] else None,
            "occurred_at": datetime.fromisoformat(data["occurred_at"]) if data["occurred_at"] else None,
        }
    )


def _trace_notification(provider: str, payment_id: str, *, kind: str) -> None:
    """A notification's spans are a trace of their own (the provider's request, then the task),
    linked to the payment's: the newest trace context stored with its events."""
    if not tracing.enabled():
        return
    tracing.annotate(payment_id=payment_id, payment_provider=provider, **{"notification.kind": kind})
    context = latest_trace_context(aggregate_type="payment", aggregate_id=payment_id)
    tracing.link_current(context, **{"link.kind": "payment"})


# --- applying -----------------------------------------------------------------------------------
@dataclasses.dataclass(frozen=True)
class Processed:
    status: str  # the notification's processing status afterwards
    released: list[str]  # deferred notifications of the same payment, to apply now that it applied


def notification_process(*, notification_id: str) -> Processed:
    """Applies an accepted notification, once."""
    with tracing.span("provider notification apply", **{"notification.id": notification_id}):
        processed = _notification_process(notification_id)
        tracing.annotate(**{"notification.status": processed.status})
        return processed


def _notification_process(notification_id: str) -> Processed:
    with transaction.atomic():
        row = InboundNotification.objects.select_for_update().annotate(db_now=Now()).get(pk=notification_id)
        if row.status not in OPEN_PROCESSING:
            return Processed(row.status, [])
        row.attempts += 1
        _trace_notification(row.provider, row.payment_reference, kind=row.kind)
        try:
            with transaction.atomic():
                outcome = payment_notifications.notification_apply(
                    provider=row.provider, notification=_from_json(row.notification)
                )
        except Exception as exc:  # recorded and retried: one bad notification must not stop the others
            logger.exception("applying a provider notification failed", extra={"notification_id": row.id})
            outcome, error = None, f"Error: {exc!r}"
        else:
            error = ""
        _record(row, outcome, error)
        if outcome is not None:
            tracing.annotate(payment_outcome=str(outcome.status))
    if outcome is not None and outcome.status == payment_notifications.Applied.APPLIED:
        payment_notifications.notification_follow_up(outcome)
        return Processed(row.status, notifications_deferred(payment_reference=row.payment_reference))
    return Processed(row.status, [])


def _record(row: InboundNotification, outcome, error: str) -> None:
    if outcome is not None and outcome.status != payment_notifications.Applied.DEFERRED:
        row.status, row.result = Processing(outcome.status), outcome.detail[:500]
        row.processed_at, row.next_attempt_at = row.db_now, None
        row.save(update_fields=["status", "result", "attempts", "processed_at", "next_attempt_at"])
        return
    why = outcome.detail if outcome is not None else error
    if row.db_now - row.received_at >= GIVE_UP_AFTER:
        row.status, row.result = Processing.FAILED, f"Given up after {row.attempts} attempts: {why}"[:500]
        row.processed_at, row.next_attempt_at = row.db_now, None
        logger.error("provider notification given up", extra={"notification_id": row.id, "detail": row.result})
    else:
        if outcome is not None:
            row.status = Processing.DEFERRED
        row.result = why[:500]
        backoff = min(FIRST_RETRY * 2 ** min(row.attempts - 1, 12), MAX_RETRY)
        row.next_attempt_at = row.db_now + backoff * random.uniform(0.5, 1.0)
    row.save(update_fields=["status", "result", "attempts", "processed_at", "next_attempt_at"])


def notifications_deferred(*, payment_reference: str) -> list[str]:
    return list(
        InboundNotification.objects.filter(status=Processing.DEFERRED, payment_reference=payment_reference)
        .order_by("received_at")
        .values_list("id", flat=True)
    )


def notifications_due(*, limit: int = 500) -> list[str]:
    """Accepted notifications whose task was lost, and deferred ones due for another try."""
    return list(
        InboundNotification.objects.filter(status__in=OPEN_PROCESSING, next_attempt_at__lte=Now())
        .order_by("next_attempt_at")
        .values_list("id", flat=True)[:limit]
    )
