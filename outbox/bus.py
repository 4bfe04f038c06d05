"""The event bus: a durable topic exchange (EVENT_BUS_EXCHANGE) on EVENT_BUS_URL, reached through
kombu. The routing key is the event type, so a subscriber binds `payment.*`, `refund.*` or `#`.
Messages are persistent, and on AMQP every publish waits for the broker's confirm: when
`publish` returns, the broker has the message.

Without EVENT_BUS_URL the bus is kombu's filesystem transport under var/events/: the relay runs
in the Celery worker and subscribers (`manage.py consume_events`) in other processes, so the
embedded bus has to be shared between processes, which kombu's memory transport is not. It has
no confirms (a publish is a file written before `publish` returns) and is for one machine only."""

import contextlib
import json
from typing import Any

from amqp.exceptions import ChannelError, MessageNacked
from amqp.exceptions import ConnectionError as AMQPConnectionError
from django.conf import settings
from kombu import Connection, Exchange, Producer
from kombu.exceptions import OperationalError

from core import tracing
from core.formats import rfc3339
from events.models import DomainEvent

CONNECT_TIMEOUT_SECONDS = 5
CONFIRM_TIMEOUT_SECONDS = 10

# What a broker outage looks like from here: refused or lost connections, closed channels,
# timeouts waiting for a confirm (OSError), and a nack.
_BROKER_ERRORS = (OperationalError, AMQPConnectionError, ChannelError, MessageNacked, OSError)


class BusUnavailable(Exception):
    """The broker did not take a message; nothing can be assumed about it."""


def exchange() -> Exchange:
    return Exchange(settings.EVENT_BUS_EXCHANGE, type="topic", durable=True, delivery_mode="persistent")


def connection() -> Connection:
    url = settings.EVENT_BUS_URL
    if url == "filesystem://":
        url = "filesystem://localhost/"  # the same bus; kombu warns about a missing host otherwise
    return Connection(url, transport_options=_transport_options(url), connect_timeout=CONNECT_TIMEOUT_SECONDS)


def _transport_options(url: str) -> dict[str, Any]:
    if url.startswith("filesystem://"):
        folder = settings.VAR_DIR / "events"
        for name in ("queue", "processed", "control"):
            (folder / name).mkdir(parents=True, exist_ok=True)
        return {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    if url.startswith(("amqp://", "amqps://", "pyamqp://")):
        return {"confirm_publish": True}
    return {}


def envelope(event: DomainEvent) -> dict:
    """What a bus message carries: the public event (as webhooks and GET /events show it) and
    what an internal subscriber needs besides: whose it is, and its place in its stream."""
    return {
        "id": event.id,
        "type": event.type,
        "created_at": rfc3339(event.occurred_at),
        "data": event.data,
        "merchant": event.merchant_id,
        "aggregate": {"type": event.aggregate_type, "id": event.aggregate_id, "sequence": event.sequence},
        "correlation_id": event.correlation_id or None,
        "causation_id": event.causation_id or None,
    }


class Publisher:
    """Publishes events on one connection, opened at the first publish and closed on exit."""

    def __init__(self) -> None:
        self._connection: Connection | None = None
        self._producer: Producer | None = None

    def __enter__(self) -> "Publisher":
        return self

    def __exit__(self, *exc_info) -> None:
        if self._connection is not None:
            with contextlib.suppress(*_BROKER_ERRORS):  # a broken connection is closed all the same
                self._connection.release()

    def publish(self, event: DomainEvent) -> None:
        """Returns once the broker has the message; raises BusUnavailable otherwise."""
        try:
            self._publish(event)
        except _BROKER_ERRORS as exc:
            raise BusUnavailable(f"{type(exc).__name__}: {exc}") from exc

    def _publish(self, event: DomainEvent) -> None:
        if self._producer is None:
            self._connection = connection()
            self._connection.ensure_connection(max_retries=0)  # no waiting: the next run retries
            self._producer = Producer(self._connection.channel(), exchange=exchange(), auto_declare=True)
        self._producer.publish(
            json.dumps(envelope(event), separators=(",", ":")),
            routing_key=event.type,
            content_type="application/json",
            content_encoding="utf-8",
            delivery_mode=2,
            message_id=event.id,
            headers=tracing.inject_current(),  # a subscriber may continue the trace (W3C traceparent)
            retry=False,
            timeout=CONFIRM_TIMEOUT_SECONDS,
            confirm_timeout=CONFIRM_TIMEOUT_SECONDS,
        )
