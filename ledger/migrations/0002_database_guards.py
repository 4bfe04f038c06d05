"""The ledger's invariants, held by the database itself so that no code path (a bug, a shell,
a raw query) can break them.

PostgreSQL:
- an entry whose postings do not sum to zero per currency, or that has fewer than 2 postings, is
  refused at commit (deferred constraint triggers: an entry and its postings are separate
  INSERTs, so the check has to wait until all of them are in);
- UPDATE and DELETE of entries and postings are refused (compensate with a new entry instead);
- a posting's currency must be its account's, and its created_at is set to its entry's;
- an account's identity (code, currency, type, normal balance) never changes; its balance does.

SQLite (the local `make run` database) gets the row triggers it can express; the balance check
stays in ledger.services there. SQLite rebuilds a table (and drops its triggers) when a migration
alters it: a later migration that alters these tables must create the SQLite triggers again.

TRUNCATE is deliberately not refused: the test suite empties tables with it. In production the
application's database role must not own these tables, so it cannot truncate them.
"""

from django.db import migrations

POSTGRESQL_FORWARD = [
    """
    CREATE FUNCTION ledger_entry_check_balanced() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        v_entry_id varchar;
        v_postings bigint;
        v_unbalanced text;
    BEGIN
        IF TG_TABLE_NAME = 'ledger_posting' THEN
            v_entry_id := NEW.entry_id;
        ELSE
            v_entry_id := NEW.id;
        END IF;
        SELECT coalesce(sum(per_currency.postings), 0),
               string_agg(per_currency.currency || ' ' || per_currency.total, ', ') FILTER (WHERE per_currency.total <> 0)
          INTO v_postings, v_unbalanced
          FROM (SELECT currency, count(*) AS postings, sum(amount) AS total
                  FROM ledger_posting WHERE entry_id = v_entry_id GROUP BY currency) AS per_currency;
        IF v_postings < 2 THEN
            RAISE EXCEPTION 'ledger: journal entry % has % posting(s); an entry needs at least 2', v_entry_id, v_postings
                USING ERRCODE = 'check_violation';
        END IF;
        IF v_unbalanced IS NOT NULL THEN
            RAISE EXCEPTION 'ledger: journal entry % does not balance: its postings sum to %', v_entry_id, v_unbalanced
                USING ERRCODE = 'check_violation';
        END IF;
        RETURN NULL;
    END
    $$
    """,
    """
    CREATE CONSTRAINT TRIGGER ledger_posting_entry_balanced
        AFTER INSERT ON ledger_posting DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION ledger_entry_check_balanced()
    """,
    # Catches an entry inserted with no postings at all, which no posting trigger would see.
    """
    CREATE CONSTRAINT TRIGGER ledger_journal_entry_balanced
        AFTER INSERT ON ledger_journal_entry DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION ledger_entry_check_balanced()
    """,
    """
    CREATE FUNCTION ledger_refuse_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger: % on % is refused: the ledger is append-only, post a compensating entry',
            TG_OP, TG_TABLE_NAME
            USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER ledger_posting_append_only BEFORE UPDATE OR DELETE ON ledger_posting
        FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()
    """,
    """
    CREATE TRIGGER ledger_journal_entry_append_only BEFORE UPDATE OR DELETE ON ledger_journal_entry
        FOR EACH ROW EXECUTE FUNCTION ledger_refuse_change()
    """,
    """
    CREATE FUNCTION ledger_posting_before_insert() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE
        v_account_currency varchar;
    BEGIN
        SELECT currency INTO v_account_currency FROM ledger_account WHERE id = NEW.account_id;
        IF FOUND AND v_account_currency <> NEW.currency THEN
            RAISE EXCEPTION 'ledger: posting in % to account % which is in %', NEW.currency, NEW.account_id, v_account_currency
                USING ERRCODE = 'check_violation';
        END IF;
        -- A posting happens when its entry does: as-of balances then never see half an entry.
        SELECT created_at INTO NEW.created_at FROM ledger_journal_entry WHERE id = NEW.entry_id;
        RETURN NEW;
    END
    $$
    """,
    """
    CREATE TRIGGER ledger_posting_before_insert BEFORE INSERT ON ledger_posting
        FOR EACH ROW EXECUTE FUNCTION ledger_posting_before_insert()
    """,
    """
    CREATE FUNCTION ledger_account_refuse_identity_change() RETURNS trigger LANGUAGE plpgsql AS $$
    BEGIN
        RAISE EXCEPTION 'ledger: account % (%): code, currency, type and normal balance never change', OLD.id, OLD.code
            USING ERRCODE = 'restrict_violation';
    END
    $$
    """,
    """
    CREATE TRIGGER ledger_account_identity_fixed BEFORE UPDATE ON ledger_account
        FOR EACH ROW
        WHEN (OLD.code IS DISTINCT FROM NEW.code OR OLD.currency IS DISTINCT FROM NEW.currency
              OR OLD.type IS DISTINCT FROM NEW.type OR OLD.normal_balance IS DISTINCT FROM NEW.normal_balance)
        EXECUTE FUNCTION ledger_account_refuse_identity_change()
    """,
]

POSTGRESQL_BACKWARD = [
    "DROP TRIGGER ledger_account_identity_fixed ON ledger_account",
    "DROP FUNCTION ledger_account_refuse_identity_change()",
    "DROP TRIGGER ledger_posting_before_insert ON ledger_posting",
    "DROP FUNCTION ledger_posting_before_insert()",
    "DROP TRIGGER ledger_journal_entry_append_only ON ledger_journal_entry",
    "DROP TRIGGER ledger_posting_append_only ON ledger_posting",
    "DROP FUNCTION ledger_refuse_change()",
    "DROP TRIGGER ledger_journal_entry_balanced ON ledger_journal_entry",
    "DROP TRIGGER ledger_posting_entry_balanced ON ledger_posting",
    "DROP FUNCTION ledger_entry_check_balanced()",
]

SQLITE_FORWARD = [
    *(
        f"""
        CREATE TRIGGER {table}_no_{operation.lower()} BEFORE {operation} ON {table}
        BEGIN SELECT RAISE(ABORT, 'ledger: {operation} on {table} is refused: the ledger is append-only'); END
        """
        for table in ("ledger_posting", "ledger_journal_entry")
        for operation in ("UPDATE", "DELETE")
    ),
    """
    CREATE TRIGGER ledger_posting_currency BEFORE INSERT ON ledger_posting
        WHEN NEW.currency IS NOT (SELECT currency FROM ledger_account WHERE id = NEW.account_id)
        BEGIN SELECT RAISE(ABORT, 'ledger: a posting must be in its account''s currency'); END
    """,
    """
    CREATE TRIGGER ledger_account_identity_fixed BEFORE UPDATE ON ledger_account
        WHEN OLD.code IS NOT NEW.code OR OLD.currency IS NOT NEW.currency
             OR OLD.type IS NOT NEW.type OR OLD.normal_balance IS NOT NEW.normal_balance
        BEGIN SELECT RAISE(ABORT, 'ledger: an account''s code, currency, type and normal balance never change'); END
    """,
]

SQLITE_BACKWARD = [
    "DROP TRIGGER ledger_account_identity_fixed",
    "DROP TRIGGER ledger_posting_currency",
    *(
        f"DROP TRIGGER {table}_no_{operation}"
        for table in ("ledger_posting", "ledger_journal_entry")
        for operation in ("update", "delete")
    ),
]


def _run(statements_by_vendor):
    def run(apps, schema_editor):
        for statement in statements_by_vendor.get(schema_editor.connection.vendor, []):
            schema_editor.execute(statement, params=None)

    return run


class Migration(migrations.Migration):
    dependencies = [("ledger", "0001_initial")]

    operations = [
        migrations.RunPython(
            _run({"postgresql": POSTGRESQL_FORWARD, "sqlite": SQLITE_FORWARD}),
            _run({"postgresql": POSTGRESQL_BACKWARD, "sqlite": SQLITE_BACKWARD}),
        )
    ]
