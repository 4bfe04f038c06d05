"""Limits on a request's line and headers, from the environment.

Django refuses a request past them with a problem (core.edge: 414 `uri_too_long`, 431
`request_header_fields_too_large`). gunicorn's own limits, derived here for config/gunicorn.py,
are higher, so that gunicorn's HTML error pages are only a backstop. This module imports nothing
of Django's: gunicorn's master reads it before any application is loaded."""

import os
from dataclasses import dataclass

# gunicorn never accepts a request line longer than this, whatever limit_request_line says.
GUNICORN_MAX_REQUEST_LINE = 8190


@dataclass(frozen=True)
class RequestLimits:
    request_line_max_bytes: int  # method, target (path and query, as sent) and version
    headers_max_bytes: int  # all header fields, `name: value\r\n` each
    headers_max_fields: int

    def gunicorn(self) -> dict:
        """gunicorn's limits: a request within ours always reaches Django, even one header holding
        all of the allowed header bytes."""
        return {
            "limit_request_line": GUNICORN_MAX_REQUEST_LINE,
            "limit_request_field_size": 2 * self.headers_max_bytes,
            "limit_request_fields": 2 * self.headers_max_fields,
        }


def request_limits(environ=os.environ) -> RequestLimits:
    limits = RequestLimits(
        request_line_max_bytes=int(environ.get("REQUEST_LINE_MAX_BYTES", "4096")),
        headers_max_bytes=int(environ.get("REQUEST_HEADERS_MAX_BYTES", "8192")),
        headers_max_fields=int(environ.get("REQUEST_HEADERS_MAX_FIELDS", "50")),
    )
    if not 0 < limits.request_line_max_bytes < GUNICORN_MAX_REQUEST_LINE:
        raise ValueError(f"REQUEST_LINE_MAX_BYTES must be between 1 and {GUNICORN_MAX_REQUEST_LINE - 1}.")
    if limits.headers_max_bytes <= 0 or limits.headers_max_fields <= 0:
        raise ValueError("REQUEST_HEADERS_MAX_BYTES and REQUEST_HEADERS_MAX_FIELDS must be positive.")
    return limits
