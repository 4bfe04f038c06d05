import json

from django.http import HttpResponse
from rest_framework.response import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_body(*, status: int, code: str, title: str, detail: str, errors: list[dict] | None = None) -> dict:
    """The one shape of every error answer (RFC 9457, plus our stable `code` and `errors`)."""
    return {
        "type": f"https://docs.payments-core.example/errors/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors or [],
    }


def problem_response(
    *, status: int, code: str, title: str, detail: str, errors: list[dict] | None = None, headers=None
) -> Response:
    body = problem_body(status=status, code=code, title=title, detail=detail, errors=errors)
    return Response(body, status=status, content_type=PROBLEM_CONTENT_TYPE, headers=headers)


def problem_http_response(
    *, status: int, code: str, title: str, detail: str, errors: list[dict] | None = None, headers=None
) -> HttpResponse:
    """The same problem as a plain Django response, for answers given outside DRF views."""
    body = problem_body(status=status, code=code, title=title, detail=detail, errors=errors)
    return HttpResponse(json.dumps(body), status=status, content_type=PROBLEM_CONTENT_TYPE, headers=headers)
