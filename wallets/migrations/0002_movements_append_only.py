"""Wallet movements are append-only in the database too, as ledger postings are: a mistake is
corrected by a revert (a new movement), never by editing or deleting one."""

from django.db import migrations

POSTGRESQL_FORWARD = [
    """
    CREATE FUNCTION wallets_movement_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'wallets: % on wallets_movement is refused: movements are append-only, revert instead', TG_OP
            USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER wallets_movement_append_only BEFORE UPDATE OR DELETE ON wallets_movement
        FOR EACH ROW EXECUTE FUNCTION wallets_movement_refuse_change()
    """,
]
POSTGRESQL_BACKWARD = [
    "DROP TRIGGER wallets_movement_append_only ON wallets_movement",
    "DROP FUNCTION wallets_movement_refuse_change()",
]
SQLITE_FORWARD = [
    f"""
    CREATE TRIGGER wallets_movement_no_{operation.lower()} BEFORE {operation} ON wallets_movement
    BEGIN SELECT RAISE(ABORT, 'wallets: {operation} on wallets_movement is refused: movements are append-only'); END
    """
    for operation in ("UPDATE", "DELETE")
]
SQLITE_BACKWARD = [f"DROP TRIGGER wallets_movement_no_{operation}" for operation in ("update", "delete")]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("wallets", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRESQL_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
