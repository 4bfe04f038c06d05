"""The trace context of the span that recorded an event (core.tracing). Immutable like the rest
of the event: the triggers of 0002 are redone with the new column in their list."""

from django.db import migrations, models

POSTGRESQL_FUNCTION = """
CREATE OR REPLACE FUNCTION events_domainevent_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        RAISE EXCEPTION 'events: domain event % cannot be deleted', OLD.id USING ERRCODE = 'restrict_violation';
    END IF;
    IF (NEW.id, NEW.merchant_id, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence, NEW.type, NEW.data,
        NEW.correlation_id, NEW.causation_id, NEW.occurred_at{new})
       IS DISTINCT FROM
       (OLD.id, OLD.merchant_id, OLD.aggregate_type, OLD.aggregate_id, OLD.sequence, OLD.type, OLD.data,
        OLD.correlation_id, OLD.causation_id, OLD.occurred_at{old}) THEN
        RAISE EXCEPTION 'events: domain event % is immutable (only published_at may change)', OLD.id
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END
$$
"""
SQLITE_TRIGGER = """
CREATE TRIGGER events_domainevent_no_update BEFORE UPDATE OF
    id, merchant_id, aggregate_type, aggregate_id, sequence, type, data, correlation_id, causation_id, occurred_at{columns}
    ON events_domainevent
BEGIN SELECT RAISE(ABORT, 'events: domain events are immutable (only published_at may change)'); END
"""


def _triggers(schema_editor, *, with_trace_context: bool) -> None:
    if schema_editor.connection.vendor == "postgresql":
        new, old = (", NEW.trace_context", ", OLD.trace_context") if with_trace_context else ("", "")
        schema_editor.execute(POSTGRESQL_FUNCTION.format(new=new, old=old), params=None)
    else:
        schema_editor.execute("DROP TRIGGER IF EXISTS events_domainevent_no_update")
        columns = ", trace_context" if with_trace_context else ""
        schema_editor.execute(SQLITE_TRIGGER.format(columns=columns), params=None)


def forward(apps, schema_editor):
    _triggers(schema_editor, with_trace_context=True)


def reverse(apps, schema_editor):
    _triggers(schema_editor, with_trace_context=False)


class Migration(migrations.Migration):
    dependencies = [("events", "0004_merchant_index_covered_by_composite")]

    operations = [
        migrations.AddField(
            model_name="domainevent",
            name="trace_context",
            field=models.JSONField(blank=True, null=True),
        ),
        migrations.RunPython(forward, reverse),
    ]
