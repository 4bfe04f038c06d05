import logging

from . import context


class RequestContextFilter(logging.Filter):
    """Adds the current correlation, causation and merchant ids to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = context.correlation_id.get()
        record.causation_id = context.causation_id.get()
        merchant = context.merchant_id.get()
        if merchant:
            record.merchant_id = merchant
        return True
