"""What a provider sent is evidence: once stored, a notification's request (provider, time,
sender, headers, body, verdict and what its adapter read) never changes and is never deleted.
Only the processing columns (status, result, attempts, next_attempt_at, processed_at) move."""

from django.db import migrations

IMMUTABLE = (
    "id, provider, received_at, remote_addr, headers, body, body_size, verdict, rejection, detail, event_id,"
    " kind, payment_reference, notification, duplicate_of_id"
)

POSTGRESQL_FORWARD = [
    f"""
    CREATE FUNCTION webhooks_inbound_notification_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        IF TG_OP = 'DELETE' THEN
            RAISE EXCEPTION 'webhooks: inbound notification % cannot be deleted', OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        IF ({", ".join(f"NEW.{c.strip()}" for c in IMMUTABLE.split(","))})
           IS DISTINCT FROM ({", ".join(f"OLD.{c.strip()}" for c in IMMUTABLE.split(","))}) THEN
            RAISE EXCEPTION 'webhooks: inbound notification % is kept as received', OLD.id
                USING ERRCODE = 'restrict_violation';
        END IF;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER webhooks_inbound_notification_immutable BEFORE UPDATE OR DELETE ON webhooks_inboundnotification
        FOR EACH ROW EXECUTE FUNCTION webhooks_inbound_notification_immutable()
    """,
]
POSTGRESQL_REVERSE = [
    "DROP TRIGGER IF EXISTS webhooks_inbound_notification_immutable ON webhooks_inboundnotification",
    "DROP FUNCTION IF EXISTS webhooks_inbound_notification_immutable()",
]

SQLITE_FORWARD = [
    """
    CREATE TRIGGER webhooks_inbound_notification_no_delete BEFORE DELETE ON webhooks_inboundnotification
    BEGIN SELECT RAISE(ABORT, 'webhooks: inbound notifications cannot be deleted'); END
    """,
    f"""
    CREATE TRIGGER webhooks_inbound_notification_no_update BEFORE UPDATE OF {IMMUTABLE}
        ON webhooks_inboundnotification
    BEGIN SELECT RAISE(ABORT, 'webhooks: inbound notifications are kept as received'); END
    """,
]
SQLITE_REVERSE = [
    "DROP TRIGGER IF EXISTS webhooks_inbound_notification_no_delete",
    "DROP TRIGGER IF EXISTS webhooks_inbound_notification_no_update",
]


def forward(apps, schema_editor):
    _run(schema_editor, POSTGRESQL_FORWARD if schema_editor.connection.vendor == "postgresql" else SQLITE_FORWARD)


def reverse(apps, schema_editor):
    _run(schema_editor, POSTGRESQL_REVERSE if schema_editor.connection.vendor == "postgresql" else SQLITE_REVERSE)


def _run(schema_editor, statements):
    for statement in statements:
        schema_editor.execute(statement, params=None)  # RAISE formats use %, not placeholders


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0001_initial")]

    operations = [migrations.RunPython(forward, reverse)]
