import hashlib
import secrets

from django.db import transaction
from django.db.models.functions import Now

from .models import ApiKey, Merchant

API_KEY_PREFIX = "sk_"


def api_key_digest(raw_key: str) -> str:
    return hashlib.sha256(raw_key.encode()).hexdigest()


def api_key_issue(*, merchant: Merchant) -> str:
    """Creates a new key for the merchant and returns it in clear, the only time it exists so."""
    raw_key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    ApiKey.objects.create(merchant=merchant, prefix=raw_key[:11], digest=api_key_digest(raw_key))
    return raw_key


def api_key_revoke_all(*, merchant: Merchant) -> int:
    return ApiKey.objects.filter(merchant=merchant, revoked_at__isnull=True).update(revoked_at=Now())


@transaction.atomic
def merchant_create(*, name: str) -> tuple[Merchant, str]:
    merchant = Merchant.objects.create(name=name)
    return merchant, api_key_issue(merchant=merchant)
