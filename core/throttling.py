"""Rate limits of the API and of the provider webhook endpoints, kept in the Redis cache.

Three scopes, each a fixed window counted in the cache:

- `api`: per API key, at `RATE_LIMIT_API` or the key's merchant's own `rate_limit`;
- `anonymous`: per client address, at `RATE_LIMIT_ANONYMOUS`, for requests without a valid key
  (including those answered 401, which DRF's throttles never see: see `throttle_failed_authentication`);
- `provider_webhooks`: per client address, at `RATE_LIMIT_PROVIDER_WEBHOOKS`, for views that say
  `throttle_scope = "provider_webhooks"`.

Why django-ratelimit under a DRF throttle, and not DRF's own throttles: DRF's SimpleRateThrottle
reads a list of timestamps, appends and writes it back (get-then-set), so concurrent requests of
one key all read the same history and many more than the limit get through. django-ratelimit's
`get_usage` counts with the cache's atomic `add` (SET NX) then `incr` (INCR), so with N concurrent
requests exactly N distinct counts are handed out and at most `limit` of them are allowed.

Every answer of a throttled view carries the IETF httpapi RateLimit header fields, in the
structured-field form of draft-ietf-httpapi-ratelimit-headers-08 and later:

    RateLimit-Policy: "api";q=100;w=1      (quota q requests per window of w seconds)
    RateLimit: "api";r=42;t=1              (r requests remaining, t seconds until the window resets)

and a refused one (429 rate_limited) also `Retry-After: <t>`.

When the cache cannot be reached the limiter fails open: money must keep moving while Redis is
down. The request goes through without the headers, `rate_limiter_fail_open_total` counts it and a
warning is logged.
"""

import logging
import re
from dataclasses import dataclass

from django.conf import settings
from django.core import checks
from django.core.exceptions import ValidationError
from django_ratelimit.core import get_usage
from redis.exceptions import RedisError
from rest_framework.exceptions import Throttled
from rest_framework.throttling import BaseThrottle

from core.metrics import RATE_LIMITED_REQUESTS, RATE_LIMITER_FAIL_OPEN

logger = logging.getLogger(__name__)

API = "api"
ANONYMOUS = "anonymous"
PROVIDER_WEBHOOKS = "provider_webhooks"

_SCOPE_SETTINGS = {
    API: "RATE_LIMIT_API",
    ANONYMOUS: "RATE_LIMIT_ANONYMOUS",
    PROVIDER_WEBHOOKS: "RATE_LIMIT_PROVIDER_WEBHOOKS",
}

# `<count>/<period>`: 100/s, 5000/m, 1000/h, 50000/d, or a multiple of the unit, 300/5m. The same
# grammar django-ratelimit reads, but strict: a typo is refused instead of read as something else.
_RATE = re.compile(r"([1-9][0-9]*)/([1-9][0-9]*)?([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
RATE_FORMAT_HELP = "Requests per period: 200/s, 5000/m, 1000/h, 50000/d, or a multiple of the unit (300/5m)."


def parse_rate(rate: str) -> tuple[int, int]:
    """'5000/m' -> (5000, 60): the quota and the window in seconds. Raises ValidationError."""
    match = _RATE.fullmatch(rate.strip())
    if match is None:
        raise ValidationError(f"{rate!r} is not a rate. {RATE_FORMAT_HELP}", code="invalid_rate")
    count, multiple, unit = match.groups()
    return int(count), int(multiple or 1) * _UNIT_SECONDS[unit]


def validate_rate(rate: str) -> None:
    parse_rate(rate)


def rate_settings(app_configs=None, **kwargs) -> list[checks.CheckMessage]:
    """A malformed RATE_LIMIT_* is reported at startup, not by the first request."""
    messages = []
    for name in _SCOPE_SETTINGS.values():
        try:
            parse_rate(getattr(settings, name))
        except ValidationError as exc:
            messages.append(checks.Error(f"{name}: {exc.messages[0]}", id="core.E020"))
    return messages


@dataclass(frozen=True)
class Usage:
    scope: str
    limit: int
    window: int  # seconds
    count: int
    reset: int  # seconds until the window ends

    @property
    def allowed(self) -> bool:
        return self.count <= self.limit

    @property
    def remaining(self) -> int:
        return max(0, self.limit - self.count)

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Policy": f'"{self.scope}";q={self.limit};w={self.window}',
            "RateLimit": f'"{self.scope}";r={self.remaining};t={self.reset}',
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.reset)
        return headers


def consume(request, *, scope: str, rate: str, key) -> Usage | None:
    """Counts one request against `key`'s window (`key`: django-ratelimit's, "ip" or a callable).
    None when the cache failed: the caller lets the request through."""
    limit, window = parse_rate(rate)
    try:
        usage = get_usage(request, group=f"payments_core.{scope}", key=key, rate=rate, increment=True)
    except (RedisError, OSError) as exc:
        return _fail_open(scope, repr(exc))
    # With RATELIMIT_FAIL_OPEN left False, a count the cache did not give back (an add and incr that
    # both failed without raising) comes as a sentinel with limit 0 (ours are at least 1): we fail
    # open ourselves, and count it.
    if usage is None or usage["limit"] == 0:
        return _fail_open(scope, "the cache returned no count")
    # The window's key changes once the clock passes `time_left` whole seconds: it resets at +1 (at
    # least 1: the clock may have ticked into the next second since the window was chosen).
    reset = max(1, usage["time_left"] + 1)
    return Usage(scope=scope, limit=limit, window=window, count=usage["count"], reset=reset)


def _fail_open(scope: str, error: str) -> None:
    RATE_LIMITER_FAIL_OPEN.labels(scope=scope).inc()
    logger.warning("rate limiter unavailable: request let through", extra={"scope": scope, "error": error})
    return None


def _api_key_digest(group, request) -> str:
    # The key's stored digest: unique to the key, and no secret in the cache.
    return request.auth.digest


class RateLimitThrottle(BaseThrottle):
    """The one throttle of every DRF view (REST_FRAMEWORK's DEFAULT_THROTTLE_CLASSES)."""

    def allow_request(self, request, view) -> bool:
        if getattr(view, "throttle_scope", None) == PROVIDER_WEBHOOKS:
            usage = consume(request, scope=PROVIDER_WEBHOOKS, rate=settings.RATE_LIMIT_PROVIDER_WEBHOOKS, key="ip")
        elif getattr(request.user, "is_authenticated", False) and request.auth is not None:
            rate = getattr(request.user, "rate_limit", "") or settings.RATE_LIMIT_API
            usage = consume(request, scope=API, rate=rate, key=_api_key_digest)
        else:
            usage = consume(request, scope=ANONYMOUS, rate=settings.RATE_LIMIT_ANONYMOUS, key="ip")
        self.usage = usage
        return _apply(usage, view)

    def wait(self) -> float | None:
        return self.usage.reset if self.usage is not None else None


def _apply(usage: Usage | None, view) -> bool:
    if usage is None:
        return True
    # DRF copies `view.headers` onto whatever the view answers, a success or an error.
    view.headers.update(usage.headers())
    if not usage.allowed:
        RATE_LIMITED_REQUESTS.labels(scope=usage.scope).inc()
    return usage.allowed


def throttle_failed_authentication(context) -> Throttled | None:
    """A request refused with 401 stops at authentication, before DRF runs its throttles: it is
    counted here, per client address, so that nobody can try keys (or hammer key lookups) freely.
    Returns the Throttled to answer instead of the 401 once the address is over its limit."""
    request, view = context.get("request"), context.get("view")
    if request is None or view is None:
        return None
    usage = consume(request, scope=ANONYMOUS, rate=settings.RATE_LIMIT_ANONYMOUS, key="ip")
    if _apply(usage, view):
        return None
    return Throttled(wait=usage.reset)
