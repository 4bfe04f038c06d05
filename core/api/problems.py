from rest_framework.response import Response

PROBLEM_CONTENT_TYPE = "application/problem+json"


def problem_response(
    *, status: int, code: str, title: str, detail: str, errors: list[dict] | None = None, headers=None
) -> Response:
    body = {
        "type": f"https://docs.payments-core.example/errors/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors or [],
    }
    return Response(body, status=status, content_type=PROBLEM_CONTENT_TYPE, headers=headers)
