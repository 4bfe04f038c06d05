"""OpenTelemetry traces: on when OTEL_EXPORTER_OTLP_ENDPOINT is set (or a test hands in an
exporter), and nothing at all otherwise: no SDK provider, no instrumentation, and every helper
here returns at once.

`setup()` runs once per process, in the process that serves or works (after any fork): the
gunicorn worker importing config.wsgi, each Celery pool process (worker_process_init), beat,
and `manage.py runserver`. It instruments Django (server spans), psycopg (statements without
their parameters), httpx (provider calls and merchant webhooks, which carry `traceparent`),
Celery (task context travels in the message) and Redis.

Work caused by a request but done later (the outbox relay, a webhook delivery) finds the
request's trace context stored with its DomainEvent (`trace_context`, the W3C carrier) and
`follow`s it: a child of the request's span when the event is younger than
TRACE_CONTINUE_WITHIN_SECONDS, otherwise the root of a new trace with a Link to the request
(one trace must not stretch over hours of retries). Work that is about a payment but was not
caused by its request (a provider's notification, reconciliation) starts its own trace and links
to the payment's newest stored context (`link_current`, `links`).

Never put card data or secrets in an attribute: ids, provider, operation and outcome only.
"""

import contextlib
import os
from collections.abc import Iterable, Iterator, Mapping
from datetime import datetime

from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanKind
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

DEFAULT_SERVICE_NAME = "payments_core"
# Never traced: probes and scrapes would be most of the spans and tell nothing.
DEFAULT_EXCLUDED_URLS = "health/,metrics,static/"
# Header capture is off unless OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_* asks for it; if it
# does, these are always replaced by "[REDACTED]".
SECRET_HEADERS = (
    "authorization",
    "proxy-authorization",
    "cookie",
    "set-cookie",
    "merchantkey",
    "webhook-signature",
    ".*signature.*",
    ".*token.*",
    ".*secret.*",
    "x-csrftoken",
)
_SANITIZE_ENV = "OTEL_INSTRUMENTATION_HTTP_CAPTURE_HEADERS_SANITIZE_FIELDS"

_W3C = TraceContextTextMapPropagator()
_provider = None  # the SDK TracerProvider once set up
_instrumentors: list = []
_tracer = trace.NoOpTracer()


def enabled() -> bool:
    return _provider is not None


def setup(*, exporter=None, service_name: str | None = None) -> bool:
    """Sets tracing up in this process, once; True if it is on. Exports OTLP/HTTP to
    OTEL_EXPORTER_OTLP_ENDPOINT, or hands every span to `exporter` (tests) as it ends."""
    global _provider, _tracer
    if _provider is not None:
        return True
    if exporter is None and not os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
        return False
    # The SDK is imported only here: with tracing off it is never loaded.
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    name = service_name or os.environ.get("OTEL_SERVICE_NAME") or DEFAULT_SERVICE_NAME
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)  # for libraries; ours use `provider` directly
    _sanitize_captured_headers()
    _instrument(provider)
    _provider, _tracer = provider, provider.get_tracer("payments_core")
    return True


def teardown() -> None:
    """Undoes `setup`'s instrumentation (tests): the process behaves as if tracing were off."""
    global _provider, _tracer
    for instrumentor in reversed(_instrumentors):
        instrumentor.uninstrument()
    _instrumentors.clear()
    if _provider is not None:
        _provider.shutdown()
    _provider, _tracer = None, trace.NoOpTracer()


def _sanitize_captured_headers() -> None:
    configured = [field for field in os.environ.get(_SANITIZE_ENV, "").split(",") if field.strip()]
    os.environ[_SANITIZE_ENV] = ",".join(dict.fromkeys([*configured, *SECRET_HEADERS]))


def _instrument(provider) -> None:
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor

    excluded = os.environ.get("OTEL_PYTHON_DJANGO_EXCLUDED_URLS", DEFAULT_EXCLUDED_URLS)
    # No request or response hooks anywhere: bodies (card tokens, payloads) are never read, and
    # psycopg records the statement text only (capture_parameters stays False).
    for instrumentor, options in (
        (DjangoInstrumentor(), {"excluded_urls": excluded}),
        (PsycopgInstrumentor(), {"capture_parameters": False}),
        (HTTPXClientInstrumentor(), {}),
        (CeleryInstrumentor(), {}),
        (RedisInstrumentor(), {}),
    ):
        if not instrumentor.is_instrumented_by_opentelemetry:
            instrumentor.instrument(tracer_provider=provider, **options)
            _instrumentors.append(instrumentor)


# --- stored context -------------------------------------------------------------------------
def current_carrier() -> dict[str, str] | None:
    """The active span's W3C context (`traceparent`, and `tracestate` if any) to store with a
    record; None when tracing is off or no span is active."""
    if _provider is None or not trace.get_current_span().get_span_context().is_valid:
        return None
    carrier: dict[str, str] = {}
    _W3C.inject(carrier)
    return carrier


def trace_id_of(carrier: Mapping[str, str] | None) -> str:
    """The 32 hex digits of a stored carrier's trace id, or ''."""
    parts = (carrier or {}).get("traceparent", "").split("-")
    return parts[1] if len(parts) == 4 and len(parts[1]) == 32 else ""


def _span_context(carrier: Mapping[str, str] | None):
    if not carrier:
        return None
    span_context = trace.get_current_span(_W3C.extract(carrier)).get_span_context()
    return span_context if span_context.is_valid else None


def links(carriers: Iterable[Mapping[str, str] | None], **attributes) -> list[Link]:
    """Links to the stored contexts (those that are valid)."""
    contexts = (_span_context(carrier) for carrier in carriers)
    return [Link(context, attributes or None) for context in contexts if context is not None]


def link_current(carrier: Mapping[str, str] | None, **attributes) -> None:
    """Links the active span to a stored context (after the span started: a notification's
    request learns its payment only once its body is verified)."""
    if _provider is None:
        return
    span_context = _span_context(carrier)
    if span_context is not None:
        trace.get_current_span().add_link(span_context, attributes or None)


def annotate(**attributes) -> None:
    """Sets attributes on the active span; `payment_id=` becomes `payment.id`. None is skipped."""
    if _provider is None:
        return
    span = trace.get_current_span()
    for name, value in attributes.items():
        if value is not None:
            span.set_attribute(name.replace("_", ".", 1), value)


# --- spans ----------------------------------------------------------------------------------
@contextlib.contextmanager
def span(name: str, *, kind: SpanKind = SpanKind.INTERNAL, links=(), **attributes) -> Iterator[Span]:
    """A child of the active span (`payment_id=` becomes `payment.id`); a no-op when off."""
    if _provider is None:
        yield trace.INVALID_SPAN
        return
    with _tracer.start_as_current_span(name, kind=kind, links=list(links), attributes=_attrs(attributes)) as current:
        yield current


@contextlib.contextmanager
def follow(
    name: str,
    carrier: Mapping[str, str] | None,
    *,
    occurred_at: datetime,
    now: datetime,
    kind: SpanKind = SpanKind.INTERNAL,
    **attributes,
) -> Iterator[Span]:
    """A span for work a stored context caused: its child while the context is recent
    (TRACE_CONTINUE_WITHIN_SECONDS), else the root of a new trace linked to it. Either way the
    span also links to the span that was active (the relay's or dispatcher's run)."""
    if _provider is None:
        yield trace.INVALID_SPAN
        return
    from django.conf import settings

    cause = _span_context(carrier)
    run = trace.get_current_span().get_span_context()
    span_links = [Link(run, {"link.kind": "run"})] if run.is_valid else []
    recent = (now - occurred_at).total_seconds() <= settings.TRACE_CONTINUE_WITHIN_SECONDS
    if cause is not None and recent:
        parent = trace.set_span_in_context(trace.NonRecordingSpan(cause))
    else:
        parent = trace.set_span_in_context(trace.INVALID_SPAN)  # a new trace
        if cause is not None:
            span_links.append(Link(cause, {"link.kind": "cause"}))
    with _tracer.start_as_current_span(
        name, context=parent, kind=kind, links=span_links, attributes=_attrs(attributes)
    ) as current:
        yield current


def inject_current() -> dict[str, str]:
    """The active context as headers for a message (the event bus); empty when off."""
    return current_carrier() or {}


def _attrs(attributes: Mapping[str, object]) -> dict:
    return {name.replace("_", ".", 1): value for name, value in attributes.items() if value is not None}
