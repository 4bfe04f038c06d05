import logging

from opentelemetry import trace

from . import context, pci


class RequestContextFilter(logging.Filter):
    """Adds the current correlation, causation, merchant and payment ids to every log record."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.correlation_id = context.correlation_id.get()
        record.causation_id = context.causation_id.get()
        merchant = context.merchant_id.get()
        if merchant:
            record.merchant_id = merchant
        payment = context.payment_id.get()
        if payment and not hasattr(record, "payment_id"):  # a call's own `extra` names its payment
            record.payment_id = payment
        span_context = trace.get_current_span().get_span_context()
        if span_context.is_valid:  # the active span's ids, in hex as Jaeger shows them
            record.trace_id = format(span_context.trace_id, "032x")
            record.span_id = format(span_context.span_id, "016x")
        return True


# Attributes every LogRecord has; the others are a call's `extra` and are masked like the message.
_RECORD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime"}
_JSON_NATIVE = (str, int, float, bool, type(None), dict, list, tuple)


class MaskingFilter(logging.Filter):
    """Masks card numbers and secrets (core.pci.mask) in everything a log line is made of: the
    message with its arguments, the `extra` values, the exception and the stack. On the root
    handler, so no logger's line escapes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: log what there is, masked
            message = f"{record.msg} {record.args}"
        record.msg, record.args = pci.mask(message), ()
        for name, value in list(vars(record).items()):
            if name in _RECORD_ATTRIBUTES:
                continue
            # Objects (a request, say) would be written as str(): mask that text.
            setattr(record, name, pci.mask_data(value if isinstance(value, _JSON_NATIVE) else str(value)))
        if record.exc_info:
            record.exc_text = pci.mask(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        elif record.exc_text:
            record.exc_text = pci.mask(record.exc_text)
        if record.stack_info:
            record.stack_info = pci.mask(record.stack_info)
        return True
