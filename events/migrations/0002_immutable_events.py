"""Domain events are facts: once written, only `published_at` (the outbox relay's bookkeeping)
may change, and no event is deleted. Held by the database so no code path can rewrite history."""

from django.db import migrations

POSTGRESQL_FORWARD = [
    """
    CREATE FUNCTION events_domainevent_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'events: domain event % cannot be deleted', OLD.id USING ERRCODE = 'restrict_violation';
        END IF;
        IF (NEW.id, NEW.merchant_id, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence, NEW.type, NEW.data,
            NEW.correlation_id, NEW.causation_id, NEW.occurred_at)
           IS DISTINCT FROM
           (OLD.id, OLD.merchant_id, OLD.aggregate_type, OLD.aggregate_id, OLD.sequence, OLD.type, OLD.data,
            OLD.correlation_id, OLD.causation_id, OLD.occurred_at) THEN
            RAISE EXCEPTION 'events: domain event % is immutable (only published_at may change)', OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER events_domainevent_immutable BEFORE UPDATE OR DELETE ON events_domainevent
        FOR EACH ROW EXECUTE FUNCTION events_domainevent_immutable()
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS events_domainevent_immutable ON events_domainevent",
    "DROP FUNCTION IF EXISTS events_domainevent_immutable()",
]

SQLITE_FORWARD = [
    """
    CREATE TRIGGER events_domainevent_no_delete BEFORE DELETE ON events_domainevent
    BEGIN SELECT RAISE(ABORT, 'events: domain events cannot be deleted'); END
    """,
    """
    CREATE TRIGGER events_domainevent_no_update BEFORE UPDATE OF
        id, merchant_id, aggregate_type, aggregate_id, sequence, type, data, correlation_id, causation_id, occurred_at
        ON events_domainevent
    BEGIN SELECT RAISE(ABORT, 'events: domain events are immutable (only published_at may change)'); END
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS events_domainevent_no_delete",
    "DROP TRIGGER IF EXISTS events_domainevent_no_update",
]


def forward(apps, schema_editor):
    _run(schema_editor, POSTGRESQL_FORWARD if schema_editor.connection.vendor == "postgresql" else SQLITE_FORWARD)


def reverse(apps, schema_editor):
    _run(schema_editor, POSTGRESQL_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE)


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement, params=None)  # RAISE formats use %, not placeholders


class Migration(migrations.Migration):
    dependencies = [("events", "0001_initial")]

    operations = [migrations.RunPython(forward, reverse)]
