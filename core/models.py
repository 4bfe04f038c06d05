from django.db import models
from django.db.models.functions import Now

from core.fields import EncryptedTextField


class IdempotencyKey(models.Model):
    """One row per (merchant, Idempotency-Key). The unique constraint is what claims a key: two
    concurrent requests cannot both insert it, whatever Python believes."""

    class State(models.TextChoices):
        IN_PROGRESS = "in_progress"
        COMPLETED = "completed"

    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, db_index=False)
    key = models.CharField(max_length=255)
    request_method = models.CharField(max_length=10)
    request_path = models.CharField(max_length=2048)
    request_fingerprint = models.CharField(max_length=64, help_text="SHA-256 of method, path and body.")
    state = models.CharField(max_length=16, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(null=True, blank=True)
    # The exact bytes of the first answer, so a replay is byte-for-byte the same. Encrypted: an
    # answer can carry a secret shown once (a webhook endpoint's signing secret).
    response_body = EncryptedTextField(blank=True, default="")
    response_content_type = models.CharField(max_length=100, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now())
    locked_at = models.DateTimeField(db_default=Now(), help_text="When the request owning the key started.")
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["merchant", "key"], name="idempotency_key_unique_per_merchant")]
        indexes = [models.Index(fields=["created_at"], name="idempotency_key_created_idx")]

    def __str__(self) -> str:
        return f"{self.merchant_id}:{self.key}"


class Heartbeat(models.Model):
    """When a Celery worker (the heartbeat task) or beat (sending it) was last seen, one row each,
    so that the web's /metrics can tell that they are alive (core.heartbeat)."""

    process = models.CharField(primary_key=True, max_length=32)
    seen_at = models.DateTimeField()
    hostname = models.CharField(max_length=255, blank=True, default="", help_text="Who was seen last.")

    def __str__(self) -> str:
        return f"{self.process} seen at {self.seen_at:%Y-%m-%d %H:%M:%S}"
