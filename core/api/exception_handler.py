"""Maps every exception a view can raise to an RFC 9457 problem response. Nothing else in the
code base builds error bodies, so every error looks the same and none leaks a stack trace."""

import logging

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions as drf

from core.errors import ApplicationError
from core.throttling import throttle_failed_authentication

from .problems import problem_response

logger = logging.getLogger(__name__)

_DRF_CODES = {
    drf.ParseError: (400, "malformed_json", "The request body is not valid JSON"),
    drf.NotAuthenticated: (401, "authentication_required", "Authentication required"),
    drf.AuthenticationFailed: (401, "invalid_api_key", "Invalid API key"),
    drf.PermissionDenied: (403, "permission_denied", "Permission denied"),
    drf.NotFound: (404, "resource_missing", "No such object"),
    drf.MethodNotAllowed: (405, "method_not_allowed", "Method not allowed"),
    drf.NotAcceptable: (406, "not_acceptable", "Not acceptable"),
    drf.UnsupportedMediaType: (415, "unsupported_media_type", "Send the body as application/json"),
    drf.Throttled: (429, "rate_limited", "Too many requests"),
}


def flatten_validation_errors(detail, prefix: str = "") -> list[dict]:
    """DRF's nested error dict -> [{"field": "payment_method.token", "code": ..., "detail": ...}]."""
    errors: list[dict] = []
    if isinstance(detail, dict):
        for key, value in detail.items():
            field = key if key != "non_field_errors" else ""
            path = f"{prefix}.{field}" if prefix and field else (field or prefix)
            errors.extend(flatten_validation_errors(value, path))
    elif isinstance(detail, list):
        for index, item in enumerate(detail):
            if isinstance(item, dict | list):
                errors.extend(flatten_validation_errors(item, f"{prefix}[{index}]" if prefix else str(index)))
            else:
                errors.extend(flatten_validation_errors(item, prefix))
    else:
        errors.append({"field": prefix or None, "code": getattr(detail, "code", "invalid"), "detail": str(detail)})
    return errors


def problem_exception_handler(exc, context):
    if isinstance(exc, ApplicationError):
        return problem_response(status=exc.status, code=exc.code, title=exc.title, detail=exc.detail, errors=exc.errors)
    if isinstance(exc, drf.ValidationError):
        errors = flatten_validation_errors(exc.detail)
        detail = "; ".join(f"{e['field']}: {e['detail']}" if e["field"] else e["detail"] for e in errors)
        return problem_response(
            status=400, code="validation_error", title="The request is not valid", detail=detail, errors=errors
        )
    if isinstance(exc, RequestDataTooBig):
        return problem_response(status=413, code="request_too_large", title="Request body too large", detail=str(exc))
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    if isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if isinstance(exc, SuspiciousOperation):
        return problem_response(status=400, code="bad_request", title="Bad request", detail="The request was refused")
    if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
        exc = throttle_failed_authentication(context) or exc
    if isinstance(exc, drf.APIException):
        status, code, title = _DRF_CODES.get(type(exc), (exc.status_code, "error", "Error"))
        headers = {}
        if isinstance(exc, drf.MethodNotAllowed | drf.NotAuthenticated | drf.AuthenticationFailed):
            auth_header = getattr(context.get("view"), "get_authenticate_header", None)
            if status == 401 and auth_header:
                headers["WWW-Authenticate"] = auth_header(context["request"]) or "Bearer"
        detail = str(exc.detail) if not isinstance(exc.detail, dict | list) else title
        return problem_response(status=status, code=code, title=title, detail=detail, headers=headers or None)

    logger.exception("unhandled error in API view")
    _report_to_sentry(exc)
    return problem_response(
        status=500, code="internal_error", title="Internal server error", detail="Something went wrong on our side."
    )


def _report_to_sentry(exc) -> None:
    try:
        import sentry_sdk
    except ImportError:  # pragma: no cover - sentry-sdk is a pinned dependency
        return
    sentry_sdk.capture_exception(exc)
