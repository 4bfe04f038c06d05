from django.db import models
from django.db.models.functions import Now

from core.ids import new_merchant_id
from core.throttling import RATE_FORMAT_HELP, validate_rate


class Merchant(models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_merchant_id, editable=False)
    name = models.CharField(max_length=200)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    rate_limit = models.CharField(
        max_length=20,
        blank=True,
        default="",
        validators=[validate_rate],
        help_text=f"API requests allowed per API key of this merchant. {RATE_FORMAT_HELP} "
        "Blank: the default (RATE_LIMIT_API).",
    )

    # The authenticated principal of an API request is a merchant (DRF's IsAuthenticated asks).
    is_authenticated = True

    def __str__(self) -> str:
        return f"{self.name} ({self.id})"


class ApiKey(models.Model):
    """A merchant's secret key. Only its SHA-256 digest and a short readable prefix are stored.

    SHA-256 and not a slow password hash: the key is 256 bits of randomness, so there is nothing
    to brute-force, and a slow hash would cost every API request tens of milliseconds."""

    merchant = models.ForeignKey(Merchant, on_delete=models.PROTECT, related_name="api_keys")
    prefix = models.CharField(max_length=16, help_text="The first characters of the key, to recognise it.")
    digest = models.CharField(max_length=64, unique=True, editable=False)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.prefix}… ({self.merchant_id})"
