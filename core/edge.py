"""The HTTP edge, the same for every endpoint (API, provider webhooks, admin):

- `read_chunked_bodies` (WSGI): a chunked request body, which Django would read as empty because
  it comes without Content-Length, is read in full (up to DATA_UPLOAD_MAX_MEMORY_SIZE) and handed
  on with its length.
- `EdgeMiddleware`: refuses request lines and headers over the limits of core.http_limits (414,
  431), bodies over the cap (413) and any body Django cannot read (411); makes every error under
  /api/ and /webhooks/ a problem+json, whatever produced it; marks those answers `no-store`.
- `csrf_failure`: a CSRF refusal under those prefixes is a problem too."""

import io
import re
from http import HTTPStatus

from django.conf import settings
from django.views.csrf import csrf_failure as django_csrf_failure

from .api.problems import PROBLEM_CONTENT_TYPE, problem_http_response

API_PATH = re.compile(r"^/(api|webhooks)(/|$)")

# Marks the WSGI wrapper leaves in the environ for the middleware.
CHUNKED_BODY_READ = "payments_core.chunked_body_read"
CHUNKED_BODY_TOO_LARGE = "payments_core.chunked_body_too_large"

# The answer to each error status, when whatever answered did not give a problem.
_PROBLEMS = {
    400: ("bad_request", "Bad request", "The request could not be understood."),
    401: ("authentication_required", "Authentication required", "Authenticate to do this."),
    403: ("permission_denied", "Forbidden", "You may not do this."),
    404: ("not_found", "Not found", "Nothing lives here."),
    405: ("method_not_allowed", "Method not allowed", "This method is not allowed here."),
    411: ("length_required", "Length required", "Send the body with a Content-Length header."),
    413: ("request_too_large", "Request body too large", "The request body is too large."),
    414: ("uri_too_long", "URI too long", "The request line is too long."),
    415: ("unsupported_media_type", "Unsupported media type", "Send the body as application/json."),
    429: ("rate_limited", "Too many requests", "Too many requests: slow down."),
    431: ("request_header_fields_too_large", "Request header fields too large", "The request headers are too large."),
    500: ("internal_error", "Internal server error", "Something went wrong on our side."),
    503: ("service_unavailable", "Service unavailable", "The service is unavailable: try again later."),
}


def problem_for_status(status: int, detail: str | None = None, headers=None):
    if status in _PROBLEMS:
        code, title, default_detail = _PROBLEMS[status]
    else:
        try:
            title = HTTPStatus(status).phrase
        except ValueError:
            title = "Error"
        code, default_detail = re.sub(r"\W+", "_", title.lower()), title + "."
    return problem_http_response(
        status=status, code=code, title=title, detail=detail or default_detail, headers=headers
    )


def read_chunked_bodies(application):
    """WSGI wrapper. gunicorn decodes a chunked body but leaves CONTENT_LENGTH unset, and Django
    reads a body without CONTENT_LENGTH as empty: a capture of 300 would capture everything. Read
    it here, at most the body cap plus one byte (to know it is over), and give Django the bytes
    with their length. Only a server that marks its input as terminated (wsgi.input_terminated)
    can be read to its end; any other chunked request is refused by EdgeMiddleware (411)."""

    def wrapped(environ, start_response):
        if _is_chunked(environ) and not environ.get("CONTENT_LENGTH") and environ.get("wsgi.input_terminated"):
            cap = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            body = environ["wsgi.input"].read() if cap is None else environ["wsgi.input"].read(cap + 1)
            if cap is not None and len(body) > cap:
                environ[CHUNKED_BODY_TOO_LARGE] = True
                body = b""
            environ["CONTENT_LENGTH"] = str(len(body))
            environ["wsgi.input"] = io.BytesIO(body)
            environ[CHUNKED_BODY_READ] = True
        return application(environ, start_response)

    return wrapped


def _is_chunked(environ) -> bool:
    return "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()


class EdgeMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        is_api = bool(API_PATH.match(request.path_info))
        response = self._refusal(request) or self.get_response(request)
        if is_api:
            if response.status_code >= 400 and not _is_problem(response):
                response = _as_problem(response)
            response["Cache-Control"] = "no-store"
        return response

    def _refusal(self, request):
        meta = request.META
        if _request_line_bytes(request) > settings.REQUEST_LINE_MAX_BYTES:
            return problem_for_status(
                414, f"The request line may be at most {settings.REQUEST_LINE_MAX_BYTES} bytes long."
            )
        size, fields = _header_size(meta)
        if size > settings.REQUEST_HEADERS_MAX_BYTES or fields > settings.REQUEST_HEADERS_MAX_FIELDS:
            return problem_for_status(
                431,
                f"The request headers may be at most {settings.REQUEST_HEADERS_MAX_BYTES} bytes "
                f"in at most {settings.REQUEST_HEADERS_MAX_FIELDS} fields.",
            )
        if meta.get(CHUNKED_BODY_TOO_LARGE):
            return problem_for_status(
                413, f"The request body may be at most {settings.DATA_UPLOAD_MAX_MEMORY_SIZE} bytes."
            )
        # A body this server could not read must never reach a view as an empty one.
        if "HTTP_TRANSFER_ENCODING" in meta and not meta.get(CHUNKED_BODY_READ):
            return problem_for_status(411)
        return None


def _request_line_bytes(request) -> int:
    # RAW_URI is the target exactly as sent (gunicorn); elsewhere, the path re-encoded.
    target = request.META.get("RAW_URI") or request.get_full_path()
    return len(f"{request.method} {target} {request.META.get('SERVER_PROTOCOL', 'HTTP/1.1')}".encode())


def _header_size(meta) -> tuple[int, int]:
    """Bytes (as `name: value\\r\\n`) and number of the request's header fields."""
    size = fields = 0
    for key, value in meta.items():
        if key.startswith("HTTP_") or key in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            name = key.removeprefix("HTTP_")
            size += len(name) + len(str(value).encode("latin-1", "replace")) + 4
            fields += 1
    return size, fields


def _is_problem(response) -> bool:
    return response.get("Content-Type", "").startswith(PROBLEM_CONTENT_TYPE)


def _as_problem(response):
    """The same status (and headers such as Allow, WWW-Authenticate, Retry-After), as a problem."""
    kept = {
        name: value
        for name, value in response.items()
        if name.lower() not in ("content-type", "content-length", "content-disposition")
    }
    problem = problem_for_status(response.status_code, headers=kept)
    problem.cookies = response.cookies
    return problem


def csrf_failure(request, reason=""):
    """CSRF_FAILURE_VIEW: a problem under /api/ and /webhooks/, Django's page elsewhere."""
    if API_PATH.match(request.path_info):
        return problem_http_response(
            status=403, code="csrf_failed", title="CSRF verification failed", detail="CSRF verification failed."
        )
    return django_csrf_failure(request, reason)
