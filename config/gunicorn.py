"""gunicorn's configuration, the one the Dockerfile and the tests' live server run with.

Every value can be set from the environment (GUNICORN_*), so a deployment tunes it without a
new image."""

import os

bind = os.environ.get("GUNICORN_BIND", "0.0.0.0:8000")
workers = int(os.environ.get("GUNICORN_WORKERS", "3"))
threads = int(os.environ.get("GUNICORN_THREADS", "1"))
worker_class = "gthread" if threads > 1 else "sync"
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "30"))
accesslog = None  # the application logs every request itself, with its correlation id
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "warning")

# Request line and header limits: Django answers requests past REQUEST_LINE_MAX_BYTES,
# REQUEST_HEADERS_MAX_BYTES and REQUEST_HEADERS_MAX_FIELDS with a problem (core.edge); these,
# derived from the same variables and higher, only stop what could never reach it.
from core.http_limits import request_limits  # noqa: E402 (gunicorn puts the project on sys.path)

_limits = request_limits().gunicorn()
limit_request_line = _limits["limit_request_line"]
limit_request_field_size = _limits["limit_request_field_size"]
limit_request_fields = _limits["limit_request_fields"]


# gunicorn has no setting for the `Server: gunicorn` header it adds to every answer, and the
# answers should not name the server: drop it where gunicorn writes its default headers.
def _drop_server_header() -> None:
    from gunicorn.http import wsgi

    default_headers = wsgi.Response.default_headers

    def without_server(self):
        return [header for header in default_headers(self) if not header.lower().startswith("server:")]

    wsgi.Response.default_headers = without_server


_drop_server_header()


# gunicorn's own log lines (an invalid request line, say) quote what the client sent: they pass
# through the same masking as the application's (card numbers, keys, signatures).
from gunicorn.glogging import Logger  # noqa: E402

from core.logging import MaskingFilter  # noqa: E402


class MaskingLogger(Logger):
    def setup(self, cfg):
        super().setup(cfg)
        for log in (self.error_log, self.access_log):
            log.addFilter(MaskingFilter())


logger_class = MaskingLogger
