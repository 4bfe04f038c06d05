"""How long webhook delivery attempts are kept.

Every attempt is a row (status, latency, an excerpt of the answer), and an endpoint that fails for
days leaves dozens per event: without a limit the table grows without bound. Attempts older than
WEBHOOK_ATTEMPTS_KEPT_DAYS (30, as long as `GET /events` shows events) are deleted, in batches so
that no delete holds many row locks for long. The delivery itself is kept, with its status, its
attempt count and its last answer."""

from datetime import timedelta

from django.conf import settings
from django.db.models.functions import Now

from .models import WebhookAttempt

PURGE_BATCH_SIZE = 5_000


def attempts_purge(*, batch_size: int = PURGE_BATCH_SIZE) -> int:
    """Deletes the attempts older than the retention; returns how many."""
    cutoff = Now() - timedelta(days=settings.WEBHOOK_ATTEMPTS_KEPT_DAYS)
    purged = 0
    while True:
        batch = list(
            WebhookAttempt.objects.filter(attempted_at__lt=cutoff)
            .order_by("attempted_at")
            .values_list("pk", flat=True)[:batch_size]
        )
        if not batch:
            return purged
        deleted, _ = WebhookAttempt.objects.filter(pk__in=batch).delete()
        purged += deleted
