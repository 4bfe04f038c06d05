"""Sends due webhook deliveries: claim, commit, send, record. No database lock or transaction is
held while an endpoint is called.

1. claim (one short transaction): lock due deliveries with FOR UPDATE SKIP LOCKED, set a lease
   (a token and an expiry) on them, commit. A delivery is due when it is pending, its time has
   come, its endpoint is enabled, it is not leased, and no earlier event of the same aggregate
   (payment, wallet, ...) is still pending for the same endpoint: so one payment's events reach
   one endpoint in sequence order, each only after the previous one was delivered or given up.
2. send, concurrently and outside any transaction: sign with the Standard Webhooks scheme, POST,
   never follow a redirect, give up on an answer after WEBHOOK_TIMEOUT_SECONDS in total.
3. record (one transaction per delivery, endpoint then delivery locked): the attempt row, always;
   then, if the lease is still ours, the outcome: delivered, retry later, or give up.

A dispatcher that dies after 1 leaves leases that expire after LEASE; the deliveries are then due
again and are sent again (at least once: receivers dedupe by the `webhook-id` header, which is
the event id).

Retries follow a schedule like Svix's, with +-20% jitter: 5 s, 5 min, 30 min, 2 h, 5 h, then
every 10 h, until an attempt fails 3 days or more after the first one; the delivery then fails
for good (a merchant can ask for it again). 410 Gone disables the endpoint at once; an endpoint
whose attempts have all failed for 5 days is disabled, and the merchant is told by a
`webhook_endpoint.disabled` event.
"""

import asyncio
import logging
import random
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.db.models.functions import Now
from standardwebhooks.webhooks import Webhook

from core import tracing

from . import metrics
from .errors import InvalidWebhookUrl
from .locks import lock_delivery, lock_endpoint_any_status
from .models import (
    RESPONSE_EXCERPT_MAX_CHARS,
    DeliveryStatus,
    DisabledReason,
    EndpointStatus,
    WebhookAttempt,
    WebhookDelivery,
)
from .representations import webhook_body
from .services import endpoint_disable_locked
from .targets import Target, target_resolve

logger = logging.getLogger(__name__)

RETRY_SCHEDULE = (
    timedelta(seconds=5),
    timedelta(minutes=5),
    timedelta(minutes=30),
    timedelta(hours=2),
    timedelta(hours=5),
    timedelta(hours=10),  # and every 10 h after that
)
RETRY_FOR = timedelta(days=3)
DISABLE_AFTER = timedelta(days=5)
USER_AGENT = "payments_core-webhooks/1"
MAX_ERROR_CHARS = 500


def lease_duration() -> timedelta:
    """Long enough for a whole batch to be sent (each send is cut at the timeout) and recorded."""
    return timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS * 2 + 30)


def retry_delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th failed attempt."""
    base = RETRY_SCHEDULE[min(attempts, len(RETRY_SCHEDULE)) - 1]
    return base * random.uniform(0.8, 1.2)


@dataclass(frozen=True)
class Job:
    delivery_id: str
    endpoint_id: str
    lease_token: uuid.UUID
    url: str
    secrets: tuple[str, ...]  # the current secret, and the previous one during its overlap
    event_id: str
    body: str
    # For the attempt's span (core.tracing): what it is about and the trace that caused it.
    event_type: str = ""
    aggregate: tuple[str, str] = ("", "")
    merchant_id: str = ""
    attempt: int = 1
    occurred_at: datetime | None = None
    trace_context: dict | None = None


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status_code: int | None
    latency_ms: int
    response_excerpt: str
    error: str


def deliveries_dispatch(*, batch_size: int | None = None, max_seconds: float | None = None) -> int:
    """Sends due deliveries, batch after batch, until none is due or `max_seconds` have passed.
    Returns how many attempts were made."""
    batch_size = batch_size or settings.WEBHOOK_DISPATCH_BATCH_SIZE
    deadline = time.monotonic() + (max_seconds if max_seconds is not None else settings.WEBHOOK_DISPATCH_MAX_SECONDS)
    attempts = 0
    while True:
        jobs = _claim(batch_size)
        if not jobs:
            break
        outcomes = asyncio.run(_send_all(jobs))
        for job, outcome in zip(jobs, outcomes, strict=True):
            _record(job, outcome)
        attempts += len(jobs)
        # A short batch does not mean the end: a delivered event makes the next one of its
        # payment due.
        if time.monotonic() >= deadline:
            break
    return attempts


def due_deliveries() -> QuerySet[WebhookDelivery]:
    earlier_pending = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"),
        aggregate_type=OuterRef("aggregate_type"),
        aggregate_id=OuterRef("aggregate_id"),
        sequence__lt=OuterRef("sequence"),
        status=DeliveryStatus.PENDING,
    )
    return (
        WebhookDelivery.objects.filter(
            status=DeliveryStatus.PENDING, next_attempt_at__lte=Now(), endpoint__status=EndpointStatus.ENABLED
        )
        .filter(Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lte=Now()))
        .filter(~Exists(earlier_pending))
        .order_by("next_attempt_at")
    )


# --- 1. claim -------------------------------------------------------------------------------------
def _claim(limit: int) -> list[Job]:
    token = uuid.uuid4()
    with transaction.atomic():
        rows = list(
            due_deliveries()
            .select_related("endpoint", "event")
            .annotate(db_now=Now())
            .select_for_update(skip_locked=True, of=("self",))[:limit]
        )
        if not rows:
            return []
        WebhookDelivery.objects.filter(pk__in=[row.pk for row in rows]).update(
            lease_token=token, lease_expires_at=Now() + lease_duration()
        )
    return [
        Job(
            delivery_id=row.id,
            endpoint_id=row.endpoint_id,
            lease_token=token,
            url=row.endpoint.url,
            secrets=_signing_secrets(row.endpoint, row.db_now),
            event_id=row.event_id,
            body=webhook_body(row.event),
            event_type=row.event_type,
            aggregate=(row.aggregate_type, row.aggregate_id),
            merchant_id=row.endpoint.merchant_id,
            attempt=row.attempt_count + 1,
            occurred_at=row.event.occurred_at,
            trace_context=row.event.trace_context,
        )
        for row in rows
    ]


def _signing_secrets(endpoint, now: datetime) -> tuple[str, ...]:
    if endpoint.previous_secret and endpoint.previous_secret_expires_at > now:
        return (endpoint.secret, endpoint.previous_secret)
    return (endpoint.secret,)


# --- 2. send (no database) ----------------------------------------------------------------------
async def _send_all(jobs: list[Job]) -> list[Outcome]:
    async with httpx.AsyncClient(
        timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
        follow_redirects=False,
        trust_env=False,  # no proxy from the environment: requests go to the checked address
        # No connection reuse: a connection is opened for one endpoint's host name (SNI,
        # certificate) and must not carry a request for another name on the same address.
        limits=httpx.Limits(max_keepalive_connections=0),
    ) as client:
        return list(await asyncio.gather(*(_send(job, client) for job in jobs)))


async def _send(job: Job, client: httpx.AsyncClient) -> Outcome:
    # Each attempt is a span: in the request's trace while the event is recent, else a new trace
    # linked to it (core.tracing.follow). The POST under it carries its traceparent.
    with tracing.follow(
        f"webhook {job.event_type}",
        job.trace_context,
        occurred_at=job.occurred_at or datetime.now(UTC),
        now=datetime.now(UTC),
        **{
            "event.id": job.event_id,
            "event.type": job.event_type,
            f"{job.aggregate[0]}.id": job.aggregate[1] or None,
            "merchant.id": job.merchant_id,
            "webhook.delivery": job.delivery_id,
            "webhook.endpoint": job.endpoint_id,
            "webhook.attempt": job.attempt,
        },
    ) as span:
        outcome = await _attempt(job, client)
        span.set_attribute("webhook.outcome", "delivered" if outcome.delivered else "failed")
        if outcome.status_code is not None:
            span.set_attribute("http.response.status_code", outcome.status_code)
        return outcome


async def _attempt(job: Job, client: httpx.AsyncClient) -> Outcome:
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    started = time.monotonic()
    status_code, excerpt, error = None, "", ""
    try:
        # The whole attempt, name resolution included, is cut at the timeout: per-read timeouts
        # alone would let an endpoint that drips its answer hold a dispatcher for hours.
        status_code, excerpt = await asyncio.wait_for(_post(job, client), timeout)
    except (TimeoutError, httpx.TimeoutException):
        error = f"no answer within {timeout:g} s"
    except InvalidWebhookUrl as exc:
        error = exc.detail
    except httpx.HTTPError as exc:
        error = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    except Exception as exc:  # a bug here must not keep the batch's other outcomes from being recorded
        logger.exception("webhook send failed unexpectedly", extra={"delivery_id": job.delivery_id})
        error = f"internal error ({type(exc).__name__})"
    if status_code is not None:
        if 300 <= status_code < 400:
            error = f"HTTP {status_code}: redirects are not followed"
        elif not 200 <= status_code < 300:
            error = f"HTTP {status_code}"
    return Outcome(
        delivered=not error,
        status_code=status_code,
        latency_ms=round((time.monotonic() - started) * 1000),
        response_excerpt=_clean(excerpt),
        error=_clean(error)[:MAX_ERROR_CHARS],
    )


async def _post(job: Job, client: httpx.AsyncClient) -> tuple[int, str]:
    target: Target = await asyncio.to_thread(target_resolve, job.url)
    timestamp = datetime.now(UTC)
    headers = {
        "webhook-id": job.event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        # Several signatures, space-separated, as the specification allows: during a rotation
        # the receiver may still hold the previous secret.
        "webhook-signature": " ".join(
            Webhook(secret).sign(msg_id=job.event_id, timestamp=timestamp, data=job.body) for secret in job.secrets
        ),
        "content-type": "application/json",
        "accept-encoding": "identity",
        "user-agent": USER_AGENT,
        "host": target.host_header,
    }
    extensions = {"sni_hostname": target.sni_hostname} if target.sni_hostname else {}

    async def post_to(address: str) -> tuple[int, str]:
        url = target.url_for(address)
        async with client.stream(
            "POST", url, content=job.body.encode(), headers=headers, extensions=extensions
        ) as answer:
            return answer.status_code, await _excerpt(answer)

    # The name's addresses in order, as a plain connect would try them.
    *others, last = target.addresses
    for address in others:
        try:
            return await post_to(address)
        except httpx.ConnectError:
            continue
    return await post_to(last)


async def _excerpt(response: httpx.Response) -> str:
    """The first KiB of the answer; the rest is never read."""
    received = bytearray()
    async for chunk in response.aiter_raw():
        received.extend(chunk)
        if len(received) >= RESPONSE_EXCERPT_MAX_CHARS:
            break
    return bytes(received[:RESPONSE_EXCERPT_MAX_CHARS]).decode("utf-8", errors="replace")


def _clean(text: str) -> str:
    return text.replace("\x00", "\ufffd")  # PostgreSQL text cannot hold NUL


# --- 3. record ----------------------------------------------------------------------------------
def _record(job: Job, outcome: Outcome) -> None:
    with transaction.atomic():
        endpoint = lock_endpoint_any_status(endpoint_id=job.endpoint_id)
        delivery = lock_delivery(delivery_id=job.delivery_id)
        now = delivery.db_now
        WebhookAttempt.objects.create(
            delivery=delivery,
            attempted_at=now - timedelta(milliseconds=outcome.latency_ms),
            delivered=outcome.delivered,
            status_code=outcome.status_code,
            latency_ms=outcome.latency_ms,
            response_excerpt=outcome.response_excerpt,
            error=outcome.error,
        )
        metrics.WEBHOOK_ATTEMPTS.labels("delivered" if outcome.delivered else "failed").inc()
        metrics.WEBHOOK_LATENCY.observe(outcome.latency_ms / 1000)
        if delivery.lease_token != job.lease_token:
            # The lease ran out and another dispatcher took the delivery over, or it was
            # redelivered meanwhile: the attempt is history, the newer holder decides.
            logger.warning("webhook delivery lease lost", extra={"delivery_id": delivery.id})
            return
        _apply(endpoint, delivery, outcome, now)


def _apply(endpoint, delivery: WebhookDelivery, outcome: Outcome, now: datetime) -> None:
    delivery.lease_token = None
    delivery.lease_expires_at = None
    delivery.attempt_count += 1
    delivery.last_attempt_at = now
    delivery.first_attempt_at = delivery.first_attempt_at or now
    delivery.last_status_code = outcome.status_code
    delivery.last_error = outcome.error
    delivery.updated_at = now
    endpoint_fields = []
    if outcome.delivered:
        delivery.status = DeliveryStatus.DELIVERED
        delivery.delivered_at = now
        delivery.next_attempt_at = None
        if endpoint.failing_since is not None:
            endpoint.failing_since = None
            endpoint_fields.append("failing_since")
    else:
        if endpoint.failing_since is None:
            endpoint.failing_since = now
            endpoint_fields.append("failing_since")
        if outcome.status_code == 410 or now - delivery.first_attempt_at >= RETRY_FOR:
            delivery.status = DeliveryStatus.FAILED
            delivery.next_attempt_at = None
            logger.warning(
                "webhook delivery given up",
                extra={"delivery_id": delivery.id, "attempts": delivery.attempt_count, "error": outcome.error},
            )
        else:
            delivery.next_attempt_at = now + retry_delay(delivery.attempt_count)
    delivery.save()
    if endpoint_fields:
        endpoint.updated_at = now
        endpoint.save(update_fields=[*endpoint_fields, "updated_at"])
    if endpoint.status == EndpointStatus.ENABLED and not outcome.delivered:
        if outcome.status_code == 410:
            endpoint_disable_locked(endpoint=endpoint, reason=DisabledReason.GONE)
        elif now - endpoint.failing_since >= DISABLE_AFTER:
            endpoint_disable_locked(endpoint=endpoint, reason=DisabledReason.FAILING)
