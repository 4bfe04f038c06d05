"""Settings shared by every environment. Everything configurable comes from the environment."""

from datetime import timedelta
from pathlib import Path

import environ
from celery.schedules import crontab

from core.http_limits import request_limits

BASE_DIR = Path(__file__).resolve().parent.parent.parent
VAR_DIR = BASE_DIR / "var"  # local state of the embedded defaults (SQLite, file broker, sandbox)

env = environ.Env()

DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env.str("SECRET_KEY", default="")
SECRET_KEY_FALLBACKS = env.list("SECRET_KEY_FALLBACKS", default=[])
# Fernet keys for secrets stored encrypted (core.crypto); the first encrypts. Empty: derived from
# SECRET_KEY (and SECRET_KEY_FALLBACKS).
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
# Production sets this: then a public default (a provider's sandbox credential, no encryption key
# of its own, ALLOWED_HOSTS = *) is a system check error and no process starts (core.startup).
REFUSE_PUBLIC_DEFAULTS = False

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI served from our own static files: offline, under our CSP
    "django_celery_beat",
    "axes",
    "core",
    "merchants",
    "events",
    "ledger",
    "wallets",
    "providers",
    "payments",
    "reconciliation",
    "outbox",
    "webhooks",
]

MIDDLEWARE = [
    "core.middleware.RequestContextMiddleware",
    "core.edge.EdgeMiddleware",  # first the size limits: the scan below reads at most that much
    "core.pci_middleware.CardNumberRefusalMiddleware",  # a card number in a path, query or header: 400
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
]

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        # The project's own templates, all in templates/ (names as Django looks them up, e.g.
        # admin/<app>/<model>/...); APP_DIRS for the admin's, DRF's and drf-spectacular's.
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# Without DATABASE_URL the back-office runs on an embedded SQLite file. SQLite gets IMMEDIATE
# transactions so that a transaction that will write takes the write lock at BEGIN: that is what
# makes select_for_update()-style read-then-write sequences safe on it.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'db.sqlite3'}")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {"transaction_mode": "IMMEDIATE", "timeout": 20}
else:
    DATABASES["default"]["CONN_MAX_AGE"] = env.int("CONN_MAX_AGE", default=60)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Cache (circuit breakers, rate state); Redis when configured ------------------------------
REDIS_URL = env.str("REDIS_URL", default="")
if REDIS_URL:
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": REDIS_URL,
            # Every API request asks the cache (rate limits): a Redis that hangs must cost a request
            # half a second, then the limiter fails open, rather than hold the worker.
            "OPTIONS": {"socket_connect_timeout": 0.5, "socket_timeout": 0.5},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# --- Rate limits (core/throttling.py, docs/security.md) -------------------------------------------
# `<count>/<period>`, the period s, m, h or d, or a multiple of one (300/5m); fixed windows counted
# in the cache above. Per API key; a merchant's own `rate_limit` (admin) replaces RATE_LIMIT_API.
RATE_LIMIT_API = env.str("RATE_LIMIT_API", default="100/s")
# Per client address (REMOTE_ADDR; IPv6 per /64): requests without a valid API key, 401s included,
RATE_LIMIT_ANONYMOUS = env.str("RATE_LIMIT_ANONYMOUS", default="60/m")
# ... and the providers' notifications (POST /webhooks/providers/...).
RATE_LIMIT_PROVIDER_WEBHOOKS = env.str("RATE_LIMIT_PROVIDER_WEBHOOKS", default="50/s")
# django-ratelimit's own fail-open would be silent: core/throttling.py fails open itself, and counts it.
RATELIMIT_FAIL_OPEN = False

# --- Login lockout (django-axes) ----------------------------------------------------------------
# Every login through django.contrib.auth (the admin's, so every staff login) is watched. After
# AXES_FAILURE_LIMIT failures of one username from one address, that username is locked out for
# that address for AXES_COOLOFF_MINUTES (a failure while locked starts the cool-off again); a
# success before that clears the count. Username *and* address: someone elsewhere cannot lock an
# operator out by mistyping her username on purpose. AXES_LOCKOUT_PARAMETERS chooses otherwise:
# alternatives separated by commas, a combination joined by "+" ("username" locks a username
# wherever the failures come from). Operators see attempts in the admin (Axes) and unlock by
# deleting the access attempt (permission axes.delete_accessattempt), or `manage.py axes_reset_username`.
AXES_FAILURE_LIMIT = env.int("AXES_FAILURE_LIMIT", default=5)
AXES_COOLOFF_TIME = timedelta(minutes=env.int("AXES_COOLOFF_MINUTES", default=30))
AXES_LOCKOUT_PARAMETERS = [
    combination.split("+") for combination in env.list("AXES_LOCKOUT_PARAMETERS", default=["username+ip_address"])
]
AXES_RESET_ON_SUCCESS = True
AXES_ENABLE_ACCESS_FAILURE_LOG = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",  # first: refuses a locked-out login before any password check
    "django.contrib.auth.backends.ModelBackend",
]
MIDDLEWARE.append("axes.middleware.AxesMiddleware")  # last, as axes requires: it answers the lockout page

# --- Celery -----------------------------------------------------------------------------------
# Broker: CELERY_BROKER_URL, else REDIS_URL, else a file-based broker under var/ (no server needed).
CELERY_BROKER_URL = env.str("CELERY_BROKER_URL", default=REDIS_URL or "filesystem://")
if CELERY_BROKER_URL.startswith("filesystem://"):
    _broker_dir = VAR_DIR / "broker"
    # kombu's file transport expects its folders to exist; the worker dies at start otherwise.
    for _folder in ("queue", "processed", "control"):
        (_broker_dir / _folder).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "control_folder": str(_broker_dir / "control"),
        "store_processed": False,
    }
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
# A task is acknowledged only after it ran, and re-queued if its worker dies: every task is
# written to be safe to run twice.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = "UTC"
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)
CELERY_BEAT_SCHEDULE = {
    "payments-resolve-unknown-outcomes": {
        "task": "payments.tasks.resolve_pending_provider_operations",
        "schedule": 15.0,
    },
    "payments-cancel-expired-authorizations": {
        "task": "payments.tasks.cancel_expired_authorizations",
        "schedule": 300.0,
    },
    "payments-capture-missed-automatic-captures": {
        "task": "payments.tasks.capture_missed_automatic_captures",
        "schedule": 60.0,
    },
    "payments-send-dispute-responses": {
        "task": "payments.tasks.send_dispute_responses",
        "schedule": 60.0,
    },
    "webhooks-retry-provider-notifications": {
        "task": "webhooks.tasks.retry_provider_notifications",
        "schedule": 15.0,
    },
    "ledger-verify-nightly": {
        "task": "ledger.tasks.verify_ledger",
        "schedule": crontab(hour=3, minute=30),
    },
    "core-purge-expired-idempotency-keys": {
        "task": "core.tasks.purge_expired_idempotency_keys",
        "schedule": 3600.0,
    },
    # Workers' and beat's liveness (core/heartbeat.py); a heartbeat queued for long is dropped.
    "core-heartbeat": {
        "task": "core.tasks.heartbeat",
        "schedule": 30.0,
        "options": {"expire_seconds": 60},
    },
    # Runs overlap safely (SKIP LOCKED); a run that waited in the queue too long is dropped
    # (django-celery-beat's name for the `expires` option).
    "outbox-relay-events": {
        "task": "outbox.tasks.relay_events",
        "schedule": 1.0,
        "options": {"expire_seconds": 10},
    },
    "outbox-purge-old-webhook-attempts": {
        "task": "outbox.tasks.purge_old_webhook_attempts",
        "schedule": 3600.0,
    },
    "outbox-deliver-webhooks": {
        "task": "outbox.tasks.deliver_webhooks",
        "schedule": 5.0,
        "options": {"expire_seconds": 30},
    },
}

# --- Internationalisation ---------------------------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = env.str("STATIC_ROOT", default=str(VAR_DIR / "static"))

# --- API --------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["merchants.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.StrictJSONParser"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "EXCEPTION_HANDLER": "core.api.exception_handler.problem_exception_handler",
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "UNAUTHENTICATED_USER": None,
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_THROTTLE_CLASSES": ["core.throttling.RateLimitThrottle"],
}
SPECTACULAR_SETTINGS = {
    "TITLE": "payments_core API",
    "SWAGGER_UI_DIST": "SIDECAR",  # offline: drf-spectacular-sidecar's copy, not a CDN
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "DESCRIPTION": (
        "Card and wallet payments, refunds, disputes, wallets, events and webhook endpoints for "
        "merchants' systems. Authenticate with `Authorization: Bearer <api key>`; every POST takes "
        "an `Idempotency-Key`; every error is `application/problem+json`. The project's README says "
        "how each rule is implemented."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PaymentStatus": "payments.models.PaymentStatus",
        "CaptureMethod": "payments.models.CaptureMethod",
        "MovementType": "wallets.models.MovementType",
    },
    "POSTPROCESSING_HOOKS": ["drf_spectacular.hooks.postprocess_schema_enums", "core.api.schema.add_links"],
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 1024 * 1024  # request bodies over 1 MiB are refused

# --- The HTTP edge (core/edge.py, core/http_limits.py) ---------------------------------------------
# Request line and headers past these get 414 / 431 problems from Django; config/gunicorn.py
# derives gunicorn's own, higher limits from the same variables.
_request_limits = request_limits()
REQUEST_LINE_MAX_BYTES = _request_limits.request_line_max_bytes
REQUEST_HEADERS_MAX_BYTES = _request_limits.headers_max_bytes
REQUEST_HEADERS_MAX_FIELDS = _request_limits.headers_max_fields
CSRF_FAILURE_VIEW = "core.edge.csrf_failure"
# /metrics wants `Authorization: Bearer <METRICS_TOKEN>`; with no token it is open only where
# METRICS_ALLOW_WITHOUT_TOKEN (production sets it False, and answers 404).
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")
METRICS_ALLOW_WITHOUT_TOKEN = True
# django-csp. Neither the admin nor Swagger UI (/api/docs/, its script served as a file of its own)
# uses inline script or style; Swagger UI's page alone may draw images from data: URIs (config/urls.py).
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'none'"],
        "script-src": ["'self'"],
        "style-src": ["'self'"],
        "img-src": ["'self'"],
        "font-src": ["'self'"],
        "connect-src": ["'self'"],
        "form-action": ["'self'"],
        "base-uri": ["'none'"],
        "object-src": ["'none'"],
        "frame-ancestors": ["'none'"],
    },
}

# Idempotency: a duplicate request that arrives while the original is still running waits this
# long for it to finish (and then replays its answer) before answering 409 idempotency_key_in_use.
IDEMPOTENCY_WAIT_SECONDS = env.float("IDEMPOTENCY_WAIT_SECONDS", default=10.0)
# A key whose request has been running longer than this is considered abandoned (its process
# died) and may be taken over by a retry; services re-check state, so re-running is safe.
IDEMPOTENCY_LOCK_TIMEOUT_SECONDS = env.int("IDEMPOTENCY_LOCK_TIMEOUT_SECONDS", default=120)
IDEMPOTENCY_KEY_TTL_HOURS = env.int("IDEMPOTENCY_KEY_TTL_HOURS", default=48)

# The platform's fee on every capture, in basis points of the captured amount (290 = 2.90%).
PLATFORM_FEE_BPS = env.int("PLATFORM_FEE_BPS", default=290)

# How long a wallet payment's reservation can be captured.
# A payment that captures automatically but stays authorized (see payments.services.
# automatic_captures_due) is captured again by a sweep: this long after its last change, this often.
AUTOMATIC_CAPTURE_RETRY_SECONDS = env.int("AUTOMATIC_CAPTURE_RETRY_SECONDS", default=60)
AUTOMATIC_CAPTURE_MAX_ATTEMPTS = env.int("AUTOMATIC_CAPTURE_MAX_ATTEMPTS", default=3)
WALLET_CAPTURE_WINDOW_DAYS = env.int("WALLET_CAPTURE_WINDOW_DAYS", default=7)

# --- Providers --------------------------------------------------------------------------------
# Each adapter talks HTTP to its provider. By default all three point at the built-in sandbox
# (`python -m sandbox`), which serves each provider under its own path prefix.
SANDBOX_URL = env.str("SANDBOX_URL", default="http://127.0.0.1:8100")
PROVIDER_TIMEOUT_SECONDS = env.float("PROVIDER_TIMEOUT_SECONDS", default=5.0)
PROVIDERS = {
    "cielo": {
        "base_url": env.str("CIELO_URL", default=f"{SANDBOX_URL}/cielo"),
        "merchant_id": env.str("CIELO_MERCHANT_ID", default="sandbox-merchant"),
        "merchant_key": env.str("CIELO_MERCHANT_KEY", default="sandbox-key"),
        "timeout": env.float("CIELO_TIMEOUT_SECONDS", default=PROVIDER_TIMEOUT_SECONDS),
        "capture_window_days": env.int("CIELO_CAPTURE_WINDOW_DAYS", default=7),
        "webhook_secret": env.str("CIELO_WEBHOOK_SECRET", default="sandbox-cielo-webhook-secret"),
    },
    "rede": {
        "base_url": env.str("REDE_URL", default=f"{SANDBOX_URL}/rede"),
        "pv": env.str("REDE_PV", default="sandbox-pv"),
        "token": env.str("REDE_TOKEN", default="sandbox-token"),
        "timeout": env.float("REDE_TIMEOUT_SECONDS", default=PROVIDER_TIMEOUT_SECONDS),
        "capture_window_days": env.int("REDE_CAPTURE_WINDOW_DAYS", default=7),
        "webhook_secret": env.str("REDE_WEBHOOK_SECRET", default="sandbox-rede-webhook-secret"),
    },
    "getnet": {
        "base_url": env.str("GETNET_URL", default=f"{SANDBOX_URL}/getnet"),
        "client_id": env.str("GETNET_CLIENT_ID", default="sandbox-client"),
        "client_secret": env.str("GETNET_CLIENT_SECRET", default="sandbox-secret"),
        "seller_id": env.str("GETNET_SELLER_ID", default="sandbox-seller"),
        "timeout": env.float("GETNET_TIMEOUT_SECONDS", default=PROVIDER_TIMEOUT_SECONDS),
        "capture_window_days": env.int("GETNET_CAPTURE_WINDOW_DAYS", default=7),
        "webhook_secret": env.str("GETNET_WEBHOOK_SECRET", default="sandbox-getnet-webhook-secret"),
    },
}
# Routing when a payment names no provider: the first rule of PROVIDER_ROUTING_RULES (JSON) that
# matches its currency and amount chooses the providers, in order or by weight; payments no rule
# matches go to PROVIDER_ROUTING_ORDER, in order. Format: providers/routing.py, docs/resilience.md.
PROVIDER_ROUTING_ORDER = env.list("PROVIDER_ROUTING_ORDER", default=["cielo", "rede", "getnet"])
PROVIDER_ROUTING_RULES = env.json("PROVIDER_ROUTING_RULES", default=[])
# Retries, with exponential backoff and jitter, of provider calls that are safe to repeat: status
# queries, and calls that certainly never reached the provider (providers/resilience.py).
PROVIDER_RETRY = {
    "attempts": env.int("PROVIDER_RETRY_ATTEMPTS", default=3),
    "base_delay_seconds": env.float("PROVIDER_RETRY_BASE_DELAY_SECONDS", default=0.05),
    "max_delay_seconds": env.float("PROVIDER_RETRY_MAX_DELAY_SECONDS", default=1.0),
}
# One circuit breaker per provider, its state in Redis (REDIS_URL) shared by every process
# (providers/circuits.py).
# Where the breakers live in Redis (a deployment sharing one Redis with another can set its own).
PROVIDER_CIRCUIT_KEY_PREFIX = env.str("PROVIDER_CIRCUIT_KEY_PREFIX", default="providers:circuit:")
PROVIDER_CIRCUIT_BREAKER = {
    "failure_threshold": env.int("PROVIDER_CIRCUIT_FAILURE_THRESHOLD", default=5),
    "failure_rate": env.float("PROVIDER_CIRCUIT_FAILURE_RATE", default=0.5),
    "minimum_calls": env.int("PROVIDER_CIRCUIT_MINIMUM_CALLS", default=20),
    "window_seconds": env.float("PROVIDER_CIRCUIT_WINDOW_SECONDS", default=60.0),
    "cooldown_seconds": env.float("PROVIDER_CIRCUIT_COOLDOWN_SECONDS", default=30.0),
    "trial_lease_seconds": env.float("PROVIDER_CIRCUIT_TRIAL_LEASE_SECONDS", default=60.0),
}

# --- Inbound provider notifications (webhooks/, docs/provider-webhooks.md) ------------------------
# Each provider signs with its PROVIDERS[...]["webhook_secret"] (CIELO_WEBHOOK_SECRET, ...), the
# same variables the sandbox signs with. A notification signed longer ago than this is refused.
PROVIDER_WEBHOOK_TOLERANCE_SECONDS = env.int("PROVIDER_WEBHOOK_TOLERANCE_SECONDS", default=300)
PROVIDER_WEBHOOK_MAX_BODY_BYTES = env.int("PROVIDER_WEBHOOK_MAX_BODY_BYTES", default=64 * 1024)
# Refused requests are kept for audit up to this many per provider and minute (the rest are only
# logged and counted): the endpoint is public, and a flood must not fill the database.
PROVIDER_WEBHOOK_REFUSED_KEPT_PER_MINUTE = env.int("PROVIDER_WEBHOOK_REFUSED_KEPT_PER_MINUTE", default=60)

# --- Events out: outbox relay, event bus, merchant webhooks (outbox/, docs/events-and-webhooks.md)
# The bus: RabbitMQ (amqp://...) in docker-compose; unset, kombu's filesystem transport under
# var/events/, which the relay (in the worker) and `consume_events` (another process) share.
EVENT_BUS_URL = env.str("EVENT_BUS_URL", default="filesystem://")
EVENT_BUS_EXCHANGE = env.str("EVENT_BUS_EXCHANGE", default="payments_core.events")
OUTBOX_RELAY_BATCH_SIZE = env.int("OUTBOX_RELAY_BATCH_SIZE", default=100)
OUTBOX_RELAY_MAX_SECONDS = env.float("OUTBOX_RELAY_MAX_SECONDS", default=10.0)
# An answer counts only if it is a 2xx within this many seconds (name resolution included).
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=15.0)
WEBHOOK_DISPATCH_BATCH_SIZE = env.int("WEBHOOK_DISPATCH_BATCH_SIZE", default=20)
WEBHOOK_DISPATCH_MAX_SECONDS = env.float("WEBHOOK_DISPATCH_MAX_SECONDS", default=30.0)
WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT = env.int("WEBHOOK_MAX_ENDPOINTS_PER_MERCHANT", default=16)
WEBHOOK_ATTEMPTS_KEPT_DAYS = env.int("WEBHOOK_ATTEMPTS_KEPT_DAYS", default=30)
# Whether endpoints may be http:// or resolve to loopback, private or link-local addresses
# (outbox/targets.py). Unset, it follows DEBUG: allowed for `make run`, refused in production.
WEBHOOK_ALLOW_PRIVATE_TARGETS = env.bool("WEBHOOK_ALLOW_PRIVATE_TARGETS", default=None)

# --- Reconciliation against settlement reports (reconciliation/, docs/reconciliation.md) -------
# The fee (MDR) each provider's contract lets it keep, in basis points of a sale; a report's fee
# is checked against it. The defaults are the sandbox's.
PROVIDER_FEE_BPS = {
    "cielo": env.int("CIELO_FEE_BPS", default=199),
    "rede": env.int("REDE_FEE_BPS", default=185),
    "getnet": env.int("GETNET_FEE_BPS", default=210),
}
# The currencies the providers settle in: the nightly job fetches one report per provider and each.
RECONCILIATION_CURRENCIES = env.list("RECONCILIATION_CURRENCIES", default=["BRL"])
# Where report files are kept as they arrived (by content hash); web and workers must share it.
RECONCILIATION_REPORTS_DIR = env.str("RECONCILIATION_REPORTS_DIR", default=str(VAR_DIR / "settlement_reports"))
# Payments moved to settled per transaction.
RECONCILIATION_SETTLE_BATCH_SIZE = env.int("RECONCILIATION_SETTLE_BATCH_SIZE", default=5000)

# --- Logging: one JSON object per line, with the request's correlation ids ---------------------
LOG_LEVEL = env.str("LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_context": {"()": "core.logging.RequestContextFilter"},
        # Card numbers and secrets never reach a log line (core.pci.mask).
        "mask_sensitive": {"()": "core.logging.MaskingFilter"},
        # The housekeeping loops of the beat schedule run every few seconds: their routine lines
        # are dropped; each task logs itself when it did something (core/celery_logging.py).
        "celery_lines": {
            "()": "core.celery_logging.CeleryLinesFilter",
            "quiet_tasks": [entry["task"] for entry in CELERY_BEAT_SCHEDULE.values()],
        },
    },
    "formatters": {
        "json": {
            "()": "pythonjsonlogger.json.JsonFormatter",
            "fmt": "%(asctime)s %(levelname)s %(name)s %(message)s",
            "rename_fields": {"asctime": "timestamp", "levelname": "level", "name": "logger"},
        }
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": "json",
            "filters": ["request_context", "mask_sensitive"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.server": {"level": "WARNING"},
        "httpx": {"level": "WARNING"},
        # Celery: beat's "Sending due task" and the worker's "Task ... succeeded" lines (failures are
        # ERROR, retries WARNING); "Task ... received" says nothing its outcome line does not.
        "celery.beat": {"filters": ["celery_lines"]},
        "celery.app.trace": {"filters": ["celery_lines"]},
        "celery.worker.strategy": {"level": "WARNING"},
    },
}

# --- Traces (core/tracing.py): on when OTEL_EXPORTER_OTLP_ENDPOINT is set ----------------------
# The relay and webhook deliveries join the trace of the request that recorded their event while
# the event is this young; older, they start a new trace linked to it.
TRACE_CONTINUE_WITHIN_SECONDS = env.int("TRACE_CONTINUE_WITHIN_SECONDS", default=300)
# The trace viewer: the admin's payment page links each trace id to TRACE_UI_URL/trace/<id> (Jaeger).
TRACE_UI_URL = env.str("TRACE_UI_URL", default="")

# --- Sentry: on when SENTRY_DSN is set (web, worker and beat: each loads these settings) -------
# Options, release detection and the scrubbers in core/sentry.py.
SENTRY_DSN = env.str("SENTRY_DSN", default="")
if SENTRY_DSN:
    import sentry_sdk

    from core.sentry import sentry_options

    sentry_sdk.init(**sentry_options(dsn=SENTRY_DSN))
