"""OpenTelemetry traces (core.tracing) with an in-memory exporter: one trace follows a capture from
the API request through the provider call, the outbox relay and the webhook delivery to the
merchant's receiver, and no span carries a key, a signature or a card number."""

import logging
import os
import subprocess
import sys

import pytest
from django.conf import settings as django_settings
from django.db import connections
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind

from core import pci, tracing
from core.logging import RequestContextFilter
from events.models import DomainEvent
from outbox.dispatch import deliveries_dispatch
from outbox.relay import relay_run

# The outbox's and webhooks' fixtures, for these tests only (a conftest would give them to the folder).
from tests.outbox.conftest import Receiver, bus_exchange_name, outbox_settings  # noqa: F401
from tests.outbox.factories import WebhookEndpointFactory
from tests.outbox.helpers import record
from tests.payments.helpers import authorize, authorized_payment, capture, create_payment, post
from tests.reconciliation.helpers import SettlementFaults, Traffic, reconcile
from tests.webhooks.conftest import notifying_sandbox, provider_sandbox, recorder_server  # noqa: F401
from tests.webhooks.helpers import deliver, recorded

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def spans():
    """Tracing on, every finished span in the exporter; off again afterwards."""
    exporter = InMemorySpanExporter()
    assert tracing.setup(exporter=exporter)
    connections["default"].close()  # the next query connects through the instrumented psycopg
    yield exporter
    tracing.teardown()
    connections["default"].close()


@pytest.fixture
def webhook_receiver():
    receiver = Receiver()
    yield receiver
    receiver.stop()


@pytest.fixture
def notification_recorder(provider_sandbox, recorder_server):  # noqa: F811 (fixtures above)
    """The sandbox's notifications, sent to a recorder at once (as tests/webhooks' `recorder`)."""
    recorder_server.clear()
    provider_sandbox.notifier.configure({"webhook_url": recorder_server.url})
    return recorder_server


def _one(spans, predicate, what: str):
    found = [span for span in spans if predicate(span)]
    assert len(found) == 1, f"{what}: {[span.name for span in found]}"
    return found[0]


def _child_of(span, parent) -> bool:
    return span.parent is not None and span.parent.span_id == parent.context.span_id


def _attribute_strings(spans) -> list[str]:
    strings = []
    for span in spans:
        for value in span.attributes.values():
            strings.extend(map(str, value) if isinstance(value, tuple) else [str(value)])
        for link in span.links:
            strings.extend(str(value) for value in (link.attributes or {}).values())
    return strings


def test_a_capture_is_one_trace_from_the_request_to_the_merchants_webhook(
    spans, api, api_key, merchant, webhook_receiver
):
    registered = post(
        api, "/webhook-endpoints", {"url": webhook_receiver.url("/hook"), "event_types": ["payment.captured"]}
    )
    assert registered.status_code == 201, registered.content
    secret = registered.json()["secret"]
    payment = authorized_payment(api)
    spans.clear()

    assert capture(api, payment["id"]).status_code == 200
    relay_run()
    deliveries_dispatch()

    finished = spans.get_finished_spans()
    request = _one(
        finished,
        lambda s: s.kind == SpanKind.SERVER and s.attributes.get("http.route", "").endswith("capture"),
        "request",
    )
    trace_id = request.context.trace_id
    assert request.attributes["payment.id"] == payment["id"]
    assert request.attributes["merchant.id"] == merchant.id

    provider = _one(finished, lambda s: s.name == "provider capture", "provider span")
    assert provider.parent.span_id == request.context.span_id
    assert provider.attributes["payment.id"] == payment["id"]
    assert provider.attributes["merchant.id"] == merchant.id
    assert provider.attributes["payment.provider"] == payment["provider"]
    assert provider.attributes["payment.operation"] == "capture"
    assert provider.attributes["payment.outcome"] == "approved"
    provider_http = [s for s in finished if _child_of(s, provider) and "http.url" in s.attributes]
    assert provider_http, "the provider's HTTP call is a child of the provider span"

    # The event stored the request's context; the relay's publish and the delivery joined it.
    event = DomainEvent.objects.get(aggregate_id=payment["id"], type="payment.captured")
    assert tracing.trace_id_of(event.trace_context) == format(trace_id, "032x")
    publish = _one(finished, lambda s: s.name == "publish payment.captured", "publish span")
    assert publish.kind == SpanKind.PRODUCER
    assert (publish.context.trace_id, publish.parent.span_id) == (trace_id, request.context.span_id)
    assert publish.attributes["payment.id"] == payment["id"]
    delivery = _one(finished, lambda s: s.name == "webhook payment.captured", "delivery span")
    assert (delivery.context.trace_id, delivery.parent.span_id) == (trace_id, request.context.span_id)
    assert delivery.attributes["payment.id"] == payment["id"]
    assert delivery.attributes["merchant.id"] == merchant.id
    assert delivery.attributes["webhook.outcome"] == "delivered"
    post_span = _one(finished, lambda s: _child_of(s, delivery) and "http.url" in s.attributes, "webhook POST")

    # The merchant's request carries the trace: W3C traceparent of the POST's span.
    (received,) = webhook_receiver.received("/hook")
    received.verify(secret)  # the header does not disturb the signature
    version, header_trace, header_span, _ = received.headers["traceparent"].split("-")
    assert (version, header_trace, header_span) == (
        "00",
        format(trace_id, "032x"),
        format(post_span.context.span_id, "016x"),
    )

    # Statements are recorded without their parameters, and nothing secret is in any attribute.
    statements = [s.attributes["db.statement"] for s in finished if "db.statement" in s.attributes]
    assert statements and all(payment["id"] not in statement for statement in statements)
    attributes = _attribute_strings(finished)
    signature = received.headers["webhook-signature"]
    provider_secrets = {
        config.get("merchant_key") or config.get("token") for config in django_settings.PROVIDERS.values()
    }
    for forbidden in (api_key, secret, signature, signature.split(",")[-1], "tok_approve", *provider_secrets - {None}):
        assert not any(forbidden in value for value in attributes), forbidden
    assert all(pci.mask(value) == value for value in attributes)


def test_an_old_event_is_delivered_in_a_new_trace_linked_to_the_request(spans, merchant, webhook_receiver, settings):
    WebhookEndpointFactory(merchant=merchant, url=webhook_receiver.url("/hook"))
    with tracing.span("request") as request:
        record(merchant)
    settings.TRACE_CONTINUE_WITHIN_SECONDS = 0  # any event is older than that by the time it goes out

    relay_run()
    deliveries_dispatch()

    finished = spans.get_finished_spans()
    cause = request.get_span_context()
    for name in ("publish payment.created", "webhook payment.created"):
        span = _one(finished, lambda s, name=name: s.name == name, name)
        assert span.parent is None and span.context.trace_id != cause.trace_id, "a new trace"
        causes = [link for link in span.links if link.attributes["link.kind"] == "cause"]
        assert [(link.context.trace_id, link.context.span_id) for link in causes] == [(cause.trace_id, cause.span_id)]
    delivery = _one(finished, lambda s: s.name == "webhook payment.created", "delivery")
    (received,) = webhook_receiver.received("/hook")
    assert received.headers["traceparent"].split("-")[1] == format(delivery.context.trace_id, "032x")


def test_a_provider_notification_is_a_trace_of_its_own_linked_to_the_payments(
    spans, api, client, notification_recorder
):
    payment = create_payment(api, provider="getnet", payment_method={"type": "card", "token": "tok_async"})
    assert authorize(api, payment["id"]).json()["status"] == "authorization_requested"
    requested = DomainEvent.objects.get(aggregate_id=payment["id"], type="payment.authorization_requested")
    payment_trace = int(tracing.trace_id_of(requested.trace_context), 16)
    notification = recorded(notification_recorder, payment["id"], "authorization")
    spans.clear()

    assert deliver(client, notification).json()["received"] is True

    finished = spans.get_finished_spans()
    received = _one(
        finished, lambda s: s.kind == SpanKind.SERVER and "webhooks/providers" in s.attributes["http.url"], "receipt"
    )
    applied = _one(finished, lambda s: s.name == "provider notification apply", "apply span")
    for span in (received, applied):
        assert span.context.trace_id != payment_trace
        assert span.attributes["payment.id"] == payment["id"]
        assert span.attributes["payment.provider"] == "getnet"
        assert [link.context.trace_id for link in span.links] == [payment_trace]
    assert applied.attributes["payment.outcome"] == "applied"


def test_a_reconciliation_run_is_a_trace_of_its_own_linked_to_its_cases_payments(
    spans, api, settings, tmp_path, sandbox_providers
):
    settings.RECONCILIATION_REPORTS_DIR = str(tmp_path / "settlement_reports")
    faults = SettlementFaults(sandbox_providers.url)
    faults.clear()
    pay = Traffic(api, "rede")
    matched, missing = pay.captured(10_000), pay.captured(20_000)
    captured = DomainEvent.objects.get(aggregate_id=missing["id"], type="payment.captured")
    payment_trace = int(tracing.trace_id_of(captured.trace_context), 16)
    today = DomainEvent.objects.get(aggregate_id=matched["id"], type="payment.captured").occurred_at.date()
    faults.set("rede", today, missing=[missing["id"]])
    spans.clear()
    try:
        reconcile("rede", today)
    finally:
        faults.clear()

    run = _one(spans.get_finished_spans(), lambda s: s.name == "reconciliation run", "run span")
    assert run.parent is None  # a trace of its own, not a child of any payment's
    assert run.attributes["payment.provider"] == "rede"
    assert run.attributes["reconciliation.status"] == "completed"
    linked = [(link.context.trace_id, link.attributes["payment.id"]) for link in run.links]
    assert linked == [(payment_trace, missing["id"])]  # only the payment with a case


def test_events_recorded_outside_any_span_store_no_context(spans, merchant):
    assert record(merchant).trace_context is None


def test_log_lines_carry_the_active_spans_ids(spans):
    line = logging.LogRecord("test", logging.INFO, __file__, 1, "hello", (), None)
    with tracing.span("work") as span:
        RequestContextFilter().filter(line)
    assert line.trace_id == format(span.get_span_context().trace_id, "032x")
    assert line.span_id == format(span.get_span_context().span_id, "016x")
    outside = logging.LogRecord("test", logging.INFO, __file__, 1, "hello", (), None)
    RequestContextFilter().filter(outside)
    assert not hasattr(outside, "trace_id")


def test_without_an_endpoint_nothing_is_set_up():
    """In a process of its own (this one may have set tracing up): no SDK, no instrumentation."""
    program = """
import sys
import django
django.setup()
from opentelemetry import trace
from opentelemetry.instrumentation.django import DjangoInstrumentor
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from core import tracing
from events.services import event_record
print(tracing.setup(), tracing.enabled(), tracing.current_carrier(), type(trace.get_tracer_provider()).__name__,
      DjangoInstrumentor().is_instrumented_by_opentelemetry, HTTPXClientInstrumentor().is_instrumented_by_opentelemetry,
      "opentelemetry.sdk.trace" in sys.modules)
"""
    environment = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    environment["DJANGO_SETTINGS_MODULE"] = "config.settings.test"
    result = subprocess.run(
        [sys.executable, "-c", program],
        env=environment,
        cwd=django_settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "False", "None", "ProxyTracerProvider", "False", "False", "False"]
