import logging
import re
import time
import uuid

from . import context
from .pci import looks_like_card_number

logger = logging.getLogger("payments_core.request")

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:\-]{1,128}$")


class RequestContextMiddleware:
    """Gives every request a correlation id: the caller's `X-Request-ID` when it is a sane value,
    a new one otherwise. It is echoed in the response and carried into logs and events."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        supplied = request.headers.get("X-Request-ID", "")
        # A card number is never adopted as an id (the request is refused a step later).
        sane = _REQUEST_ID.match(supplied) and not looks_like_card_number(supplied)
        request_id = supplied if sane else f"req_{uuid.uuid4().hex}"
        request.request_id = request_id
        tokens = (context.correlation_id.set(request_id), context.causation_id.set(request_id))
        started = time.perf_counter()
        try:
            response = self.get_response(request)
            response["X-Request-ID"] = request_id
            logger.info(
                "request",
                extra={
                    "method": request.method,
                    "path": request.path,
                    "status": response.status_code,
                    "duration_ms": round((time.perf_counter() - started) * 1000, 2),
                },
            )
            return response
        finally:
            context.causation_id.reset(tokens[1])
            context.correlation_id.reset(tokens[0])
            context.merchant_id.set(None)
            context.payment_id.set(None)  # set by the payment views
