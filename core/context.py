"""Per-request (or per-task) context carried into log lines and domain events.

correlation_id: the id of the request (or job) that started a chain of work; it travels with
    every task and event the chain produces.
causation_id: the id of the immediate cause of the current work (the request itself, or the
    event or notification being handled).
"""

import contextlib
import contextvars
from collections.abc import Iterator

correlation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("correlation_id", default=None)
causation_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("causation_id", default=None)
merchant_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("merchant_id", default=None)


@contextlib.contextmanager
def bound(*, correlation: str | None = None, causation: str | None = None) -> Iterator[None]:
    """Bind correlation/causation ids for the duration of a block (tasks, commands)."""
    tokens = []
    if correlation is not None:
        tokens.append((correlation_id, correlation_id.set(correlation)))
    if causation is not None:
        tokens.append((causation_id, causation_id.set(causation)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
