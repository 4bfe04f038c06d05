"""Tests: real PostgreSQL and Redis (tests must never pass only on SQLite)."""

from .base import *  # noqa: F403
from .base import env

SECRET_KEY = "test-secret-key-not-for-production"
DATABASES = {"default": env.db("DATABASE_URL", default="postgres://postgres@127.0.0.1:5432/payments_core")}
REDIS_URL = env.str("REDIS_URL", default="redis://127.0.0.1:6379/15")
# Test sessions on other databases may share this Redis: each keeps its keys to itself (a worker
# started by a test, on the test database, finds the same namespace).
REDIS_NAMESPACE = "test:" + DATABASES["default"]["NAME"].removeprefix("test_")
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": REDIS_NAMESPACE,
    }
}
PROVIDER_CIRCUIT_KEY_PREFIX = f"{REDIS_NAMESPACE}:providers:circuit:"
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_TASK_ALWAYS_EAGER = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
IDEMPOTENCY_WAIT_SECONDS = 10.0
LOGGING["root"]["level"] = "WARNING"  # noqa: F405
# A whole suite refuses many notifications within a minute; the budget has a test of its own.
PROVIDER_WEBHOOK_REFUSED_KEPT_PER_MINUTE = 1_000_000
# Tests make many requests from one address and key; the rate limits' own tests set theirs.
RATE_LIMIT_API = RATE_LIMIT_ANONYMOUS = RATE_LIMIT_PROVIDER_WEBHOOKS = "1000000/s"
