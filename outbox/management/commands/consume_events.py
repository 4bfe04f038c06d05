"""The example subscriber: binds a queue to the event bus and prints each event as one JSON line.

    python manage.py consume_events --types 'payment.*' 'refund.*'

What any subscriber must do, it does: it dedupes by event id (the relay publishes at least once:
an event can arrive twice after a crash), acknowledges a message only after handling it, and
stops cleanly on SIGINT or SIGTERM. The ids it has seen are kept in memory (the last 100,000);
a real service keeps them in its own database, in the transaction that handles the event.

Without --queue the queue is the command's own and goes away with it; with --queue it is durable
and keeps collecting events while no one consumes it."""

import json
import signal
import time
import uuid
from collections import OrderedDict

from django.core.management.base import BaseCommand, CommandError
from kombu import Queue, binding
from kombu.mixins import ConsumerMixin

from outbox import bus

SEEN_IDS_KEPT = 100_000


class Command(BaseCommand):
    help = "Prints events from the event bus, one JSON object per line (the example subscriber)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--types",
            nargs="+",
            default=["#"],
            metavar="PATTERN",
            help="Routing patterns of the event types: 'payment.*', 'refund.succeeded', '#' for all (default).",
        )
        parser.add_argument("--queue", help="A durable queue of this name instead of a private, temporary one.")
        parser.add_argument("--max-messages", type=int, help="Stop after printing this many events.")
        parser.add_argument("--timeout", type=float, help="Stop after this many seconds.")

    def handle(self, *args, **options):
        if options["max_messages"] is not None and options["max_messages"] < 1:
            raise CommandError("--max-messages must be at least 1.")
        durable = options["queue"] is not None
        queue = Queue(
            options["queue"] or f"consume_events.{uuid.uuid4().hex}",
            bindings=[binding(bus.exchange(), routing_key=pattern) for pattern in options["types"]],
            durable=durable,
            exclusive=not durable,
            auto_delete=not durable,
        )
        deadline = time.monotonic() + options["timeout"] if options["timeout"] is not None else None
        with bus.connection() as connection:
            printer = EventPrinter(
                connection,
                queue,
                out=self.stdout,
                err=self.stderr,
                max_messages=options["max_messages"],
                deadline=deadline,
                delete_queue_on_exit=not durable,
            )
            previous = {sig: signal.signal(sig, printer.stop) for sig in (signal.SIGINT, signal.SIGTERM)}
            try:
                printer.run()
            except Interrupted:
                pass
            finally:
                for sig, handler in previous.items():
                    signal.signal(sig, handler)
        self.stderr.write(
            f"consume_events: stopped after {printer.printed} event(s), {printer.duplicates} duplicate(s)"
        )


class Interrupted(Exception):
    """Stop asked while waiting for the broker: there is nothing to finish."""


class EventPrinter(ConsumerMixin):
    consuming = False

    def __init__(self, connection, queue, *, out, err, max_messages, deadline, delete_queue_on_exit):
        self.connection = connection
        self.queue = queue
        self.out = out
        self.err = err
        self.max_messages = max_messages
        self.deadline = deadline
        self.delete_queue_on_exit = delete_queue_on_exit
        self.seen: OrderedDict[str, None] = OrderedDict()
        self.printed = 0
        self.duplicates = 0

    def stop(self, signum=None, frame=None) -> None:
        """Consuming, the current message is finished first; connecting, we stop at once."""
        self.should_stop = True
        if not self.consuming:
            raise Interrupted

    def on_connection_error(self, exc, interval):
        self.consuming = False
        if self.deadline is not None and time.monotonic() >= self.deadline:
            raise Interrupted
        self.err.write(f"consume_events: the event bus is unreachable ({exc}); retrying in {interval:g} s")
        self.err.flush()

    def get_consumers(self, Consumer, channel):
        return [Consumer(queues=[self.queue], callbacks=[self.on_event], accept=["json"], prefetch_count=100)]

    def on_consume_ready(self, connection, channel, consumers, **kwargs):
        self.consuming = True
        # Tells whoever started us that events published from now on will reach us.
        self.err.write(f"consume_events: queue {self.queue.name} bound to {', '.join(self._patterns())}")
        self.err.flush()

    def on_iteration(self):
        if self.deadline is not None and time.monotonic() >= self.deadline:
            self.should_stop = True

    def on_consume_end(self, connection, channel):
        if self.delete_queue_on_exit:
            # AMQP drops an exclusive queue by itself; the file transport would keep feeding it.
            self.queue(channel).delete()

    def on_event(self, body, message) -> None:
        if not isinstance(body, dict) or not isinstance(body.get("id"), str):
            self.err.write("consume_events: skipped a message that is not an event")
        elif body["id"] in self.seen:
            self.duplicates += 1
        else:
            self.out.write(json.dumps(body, separators=(",", ":"), sort_keys=True))
            self.out.flush()
            self.seen[body["id"]] = None
            if len(self.seen) > SEEN_IDS_KEPT:
                self.seen.popitem(last=False)
            self.printed += 1
        message.ack()  # after the line is out: a crash before this gets the message again
        if self.max_messages is not None and self.printed >= self.max_messages:
            self.should_stop = True

    def _patterns(self) -> list[str]:
        return [b.routing_key for b in self.queue.bindings]
