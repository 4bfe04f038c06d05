"""Per-request (or per-task) context carried into log lines and domain events.

correlation_id: the id of the request (or job) that started a chain of work; it travels with
    every task and event the chain produces.
causation_id: the id of the immediate cause of the current work (the request itself, or the
    event or notification being handled).
merchant_id, payment_id: the merchant and the payment the work is about, where known (set by the
    API authentication, the payment views and the tasks that act on a payment).
"""

import contextlib
import contextvars
from collections.abc import Iterator

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
causation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("causation_id", default=None)
merchant_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("merchant_id", default=None)
payment_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("payment_id", default=None)


@contextlib.contextmanager
def bound(
    *,
    correlation: str | None = None,
    causation: str | None = None,
    merchant: str | None = None,
    payment: str | None = None,
) -> Iterator[None]:
    """Bind correlation/causation (and merchant/payment) ids for the duration of a block (tasks,
    commands, services acting on a payment); the ids not given stay as they are."""
    tokens = []
    for var, value in (
        (correlation_id, correlation),
        (causation_id, causation),
        (merchant_id, merchant),
        (payment_id, payment),
    ):
        if value is not None:
            tokens.append((var, var.set(value)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
