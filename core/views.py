"""Operational endpoints (health, metrics) and the problem+json pages Django serves when a
request never reaches a DRF view (unknown URL, crash in middleware)."""

import hmac
import logging

from celery import current_app
from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.http import HttpResponse, JsonResponse
from django.views.decorators.http import require_GET

from .api.problems import problem_http_response
from .metrics import render_metrics

logger = logging.getLogger(__name__)


@require_GET
def health_live(request):
    return JsonResponse({"status": "ok"})


@require_GET
def health_ready(request):
    checks = {
        "database": _check_database,
        "migrations": _check_migrations,
        "cache": _check_cache,
        "broker": _check_broker,
    }
    results = {}
    for name, check in checks.items():
        try:
            check()
            results[name] = "ok"
        except Exception as exc:  # a readiness probe reports every failure, it never raises
            logger.warning("readiness check failed", extra={"check": name, "error": str(exc)})
            results[name] = "unavailable"
    ready = all(value == "ok" for value in results.values())
    return JsonResponse({"status": "ok" if ready else "unavailable", "checks": results}, status=200 if ready else 503)


def _check_database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _check_migrations() -> None:
    """Code newer than the schema (a deploy whose `migrate` did not run, or an app migrated back)
    is not ready: its queries would fail on columns that do not exist yet."""
    executor = MigrationExecutor(connection)
    unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
    if unapplied:
        names = ", ".join(f"{migration.app_label}.{migration.name}" for migration, _ in unapplied[:5])
        raise RuntimeError(f"{len(unapplied)} unapplied migration(s): {names}")


def _check_cache() -> None:
    cache.set("health:ready", "1", timeout=5)
    if cache.get("health:ready") != "1":
        raise RuntimeError("cache did not return what was stored")


def _check_broker() -> None:
    # The project's Celery app (config.celery), current once settings load: the kernel names no project package.
    with current_app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=2)


@require_GET
def metrics(request):
    refusal = _refuse_metrics(request)
    if refusal:
        return refusal
    body, content_type = render_metrics()
    return HttpResponse(body, content_type=content_type)


def _refuse_metrics(request) -> HttpResponse | None:
    """/metrics needs `Authorization: Bearer <METRICS_TOKEN>`. Without a token configured it is
    open only where METRICS_ALLOW_WITHOUT_TOKEN (local, tests); production answers 404."""
    token = settings.METRICS_TOKEN
    if not token:
        return None if settings.METRICS_ALLOW_WITHOUT_TOKEN else problem_404(request)
    scheme, _, supplied = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and hmac.compare_digest(supplied.strip().encode(), token.encode()):
        return None
    return problem_http_response(
        status=401,
        code="authentication_required",
        title="Authentication required",
        detail="Send the metrics token as `Authorization: Bearer <token>`.",
        headers={"WWW-Authenticate": 'Bearer realm="metrics"'},
    )


def _problem(status: int, code: str, title: str, detail: str) -> HttpResponse:
    return problem_http_response(status=status, code=code, title=title, detail=detail)


def problem_400(request, exception=None):
    return _problem(400, "bad_request", "Bad request", "The request could not be understood.")


def problem_403(request, exception=None):
    return _problem(403, "permission_denied", "Forbidden", "You may not do this.")


def problem_404(request, exception=None):
    return _problem(404, "not_found", "Not found", f"Nothing lives at {request.path}.")


def problem_500(request):
    return _problem(500, "internal_error", "Internal server error", "Something went wrong on our side.")
