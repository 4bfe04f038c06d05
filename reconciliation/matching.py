"""The set-based part of a run, in SQL, inside the run's transaction: stage the report's lines,
classify every line against our payments and refunds, open a case for every discrepancy and for
every payment the report should have paid and did not.

Classification of a sale, first rule that applies:

| class | when |
|---|---|
| duplicate | an earlier line of the same report names the same transaction |
| unknown | no payment of this provider and currency has the line's key |
| already_settled | an earlier report's line settled that payment |
| amount_mismatch | the gross differs from what we captured |
| fee_mismatch | the fee differs from the contract's (PROVIDER_FEE_BPS of the gross) |
| late | it is a sale of another day than the report's |
| matched | otherwise |

A refund line is matched to a succeeded refund of the payment with that amount (each refund
once); otherwise it is unknown, as is any other adjustment. A chargeback line is matched to the
payment's dispute of that amount (each dispute once): the dispute's opening already took the amount
from the merchant and out of the receivable, so the line only confirms it. A chargeback we never
heard of is a case (`chargeback`): charging the merchant is then an operator's decision.
A payment is missing when its capture succeeded on the report's day and no line settled it; a
refund is missing (`refund_missing`) when it succeeded on the report's day and no line matched it.

On PostgreSQL the lines are staged with COPY; other databases (SQLite under `make run`) insert
them in batches.

The statements are built from constants and from field names checked against fixed sets (the
`noqa: S608` below); every value is a query parameter.
"""

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta

from django.db import connection

from providers.settlement import KeySource, LineKind, SettlementLine

from .models import SETTLING_CLASSES, CaseKind, CaseStatus, Classification, CounterAccount

STAGING = "reconciliation_staging"
STAGING_COLUMNS = (
    "line_no",
    "kind",
    "sale_date",
    "gross",
    "fee",
    "net",
    "tid",
    "nsu",
    "authorization_code",
    "order_reference",
    "provider_payment_id",
)
KEY_FIELDS = {"tid", "order_reference", "provider_payment_id"}
PAYMENT_COLUMNS = {KeySource.ORDER_REFERENCE: "id", KeySource.PROVIDER_REFERENCE: "provider_reference"}
INSERT_BATCH = 5_000
WORK_MEM = "256MB"

_SETTLING = ", ".join(f"'{value}'" for value in SETTLING_CLASSES)
_LINE_CASES = ", ".join(
    f"'{value}'"
    for value in (
        Classification.AMOUNT_MISMATCH,
        Classification.FEE_MISMATCH,
        Classification.UNKNOWN,
        Classification.DUPLICATE,
        Classification.ALREADY_SETTLED,
        Classification.CHARGEBACK,
    )
)
# A missing payment whose case was closed for good (its amount charged to the merchant or
# written off): if it is paid after all, that money is a new difference.
_CLOSED_FOR_GOOD = "'accepted', 'written_off'"


def _temporary(table: str) -> str:
    return f"{'pg_temp' if connection.vendor == 'postgresql' else 'temp'}.{table}"


def stage(lines: Iterable[SettlementLine]) -> int:
    """Loads the lines into a temporary staging table, this connection's only, for the current
    transaction: `unstage` drops it, and so does a rollback. Returns how many lines there were."""
    postgres = connection.vendor == "postgresql"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_temporary(STAGING)}")
        cursor.execute(
            f"""CREATE TEMPORARY TABLE {STAGING} (
                line_no integer PRIMARY KEY, kind varchar(16) NOT NULL, sale_date date NOT NULL,
                gross bigint NOT NULL, fee bigint NOT NULL, net bigint NOT NULL, tid varchar(64) NOT NULL,
                nsu varchar(16) NOT NULL, authorization_code varchar(16) NOT NULL,
                order_reference varchar(64) NOT NULL, provider_payment_id varchar(64) NOT NULL
            ){" ON COMMIT DROP" if postgres else ""}"""
        )
        count = 0
        if postgres:
            with cursor.cursor.copy(f"COPY {STAGING} ({', '.join(STAGING_COLUMNS)}) FROM STDIN") as copy:
                for count, line in enumerate(lines, start=1):
                    copy.write_row((count, *line))
            cursor.execute(f"ANALYZE {STAGING}")  # temporary tables are never analyzed by autovacuum
        else:
            insert = f"INSERT INTO {STAGING} VALUES ({', '.join(['%s'] * len(STAGING_COLUMNS))})"  # noqa: S608
            batch: list[tuple] = []
            for count, line in enumerate(lines, start=1):
                batch.append((count, *line))
                if len(batch) == INSERT_BATCH:
                    cursor.executemany(insert, batch)
                    batch.clear()
            cursor.executemany(insert, batch)
    return count


def unstage() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {_temporary(STAGING)}")


def staged_totals() -> tuple[int, int, int]:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT COALESCE(SUM(gross), 0), COALESCE(SUM(fee), 0), COALESCE(SUM(net), 0) FROM {STAGING}")  # noqa: S608
        gross, fee, net = cursor.fetchone()
    return int(gross), int(fee), int(net)


def resolve_missing_keys(*, provider: str, key_field: str) -> None:
    """Adjustments that do not carry the transaction's key (Rede's 035) name the original sale by
    NSU, authorization code and sale date: take the key from that sale, in this report or in the
    report of that day."""
    if key_field not in KEY_FIELDS:
        raise ValueError(key_field)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {STAGING} SET {key_field} = COALESCE(
                (SELECT s.{key_field} FROM {STAGING} s
                  WHERE s.kind = %(sale)s AND s.{key_field} <> '' AND s.nsu = {STAGING}.nsu
                    AND s.authorization_code = {STAGING}.authorization_code AND s.sale_date = {STAGING}.sale_date
                  ORDER BY s.line_no LIMIT 1),
                (SELECT l.transaction_key FROM reconciliation_line l
                   JOIN reconciliation_run r ON r.id = l.run_id
                  WHERE r.provider = %(provider)s AND r.business_date = {STAGING}.sale_date AND l.kind = %(sale)s
                    AND l.transaction_key <> '' AND l.nsu = {STAGING}.nsu
                    AND l.authorization_code = {STAGING}.authorization_code
                  ORDER BY l.id LIMIT 1),
                '')
            WHERE kind <> %(sale)s AND {key_field} = '' AND nsu <> ''""",  # noqa: S608
            {"provider": provider, "sale": LineKind.SALE.value},
        )


def classify(
    *,
    run_id: int,
    provider: str,
    currency: str,
    business_date: date,
    key_field: str,
    key_source: str,
    fee_bps: int,
) -> None:
    """Inserts every staged line into reconciliation_line with what it matched and its class."""
    if key_field not in KEY_FIELDS:
        raise ValueError(key_field)
    column = PAYMENT_COLUMNS[KeySource(key_source)]
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO reconciliation_line (
                run_id, line_no, kind, sale_date, gross, fee, net, transaction_key, tid, nsu, authorization_code,
                order_reference, provider_payment_id, payment_id, refund_id, dispute_id, classification,
                expected_gross, expected_fee)
            WITH repeated AS MATERIALIZED (
                -- keys named by more than one sale: hashed, not sorted, however long the report
                SELECT s.{key_field} AS transaction_key, MIN(s.line_no) AS first_line
                FROM {STAGING} s
                WHERE s.kind = %(sale)s AND s.{key_field} <> ''
                GROUP BY s.{key_field}
                HAVING COUNT(*) > 1
            ), found AS MATERIALIZED (
                SELECT s.*, s.{key_field} AS transaction_key, p.id AS payment_id, p.amount_captured,
                       (r.first_line IS NOT NULL AND s.line_no > r.first_line) AS repeated
                FROM {STAGING} s
                LEFT JOIN repeated r ON s.kind = %(sale)s AND r.transaction_key = s.{key_field}
                LEFT JOIN payments_payment p
                  ON s.{key_field} <> '' AND p.provider = %(provider)s AND p.currency = %(currency)s
                 AND p.{column} = s.{key_field}
            ), settled_before AS MATERIALIZED (
                -- read once, before this statement adds lines of its own (a lookup per inserted row
                -- would scan the rows being inserted)
                SELECT DISTINCT l.payment_id FROM reconciliation_line l
                WHERE l.kind = %(sale)s AND l.classification IN ({_SETTLING})
                  AND l.payment_id IN (SELECT f.payment_id FROM found f WHERE f.kind = %(sale)s)
            ), refund_lines AS (
                SELECT f.line_no, f.payment_id, -f.gross AS amount,
                       row_number() OVER (PARTITION BY f.payment_id, f.gross ORDER BY f.line_no) AS position
                FROM found f WHERE f.kind = %(refund)s AND f.payment_id IS NOT NULL
            ), open_refunds AS MATERIALIZED (
                SELECT r.id, r.payment_id, r.amount,
                       row_number() OVER (PARTITION BY r.payment_id, r.amount ORDER BY r.created_at, r.id) AS position
                FROM payments_refund r
                WHERE r.status = 'succeeded' AND r.currency = %(currency)s
                  AND r.payment_id IN (SELECT payment_id FROM refund_lines)
                  AND NOT EXISTS (SELECT 1 FROM reconciliation_line l WHERE l.refund_id = r.id)
            ), paired AS MATERIALIZED (
                SELECT rl.line_no, o.id AS refund_id
                FROM refund_lines rl
                JOIN open_refunds o
                  ON o.payment_id = rl.payment_id AND o.amount = rl.amount AND o.position = rl.position
            ), chargeback_lines AS (
                SELECT f.line_no, f.payment_id, -f.gross AS amount,
                       row_number() OVER (PARTITION BY f.payment_id ORDER BY f.line_no) AS position
                FROM found f WHERE f.kind = %(chargeback)s AND f.payment_id IS NOT NULL
            ), confirmed AS MATERIALIZED (
                -- a payment has at most one dispute: its first chargeback line of that amount
                SELECT cl.line_no, d.id AS dispute_id
                FROM chargeback_lines cl
                JOIN payments_dispute d
                  ON d.payment_id = cl.payment_id AND d.amount = cl.amount AND d.currency = %(currency)s
                WHERE cl.position = 1
                  AND NOT EXISTS (SELECT 1 FROM reconciliation_line l WHERE l.dispute_id = d.id)
            )
            SELECT %(run)s, f.line_no, f.kind, f.sale_date, f.gross, f.fee, f.net, f.transaction_key, f.tid, f.nsu,
                f.authorization_code, f.order_reference, f.provider_payment_id, f.payment_id, paired.refund_id,
                confirmed.dispute_id,
                CASE
                    WHEN f.kind = %(sale)s THEN CASE
                        WHEN f.repeated THEN 'duplicate'
                        WHEN f.payment_id IS NULL THEN 'unknown'
                        WHEN settled_before.payment_id IS NOT NULL THEN 'already_settled'
                        WHEN f.gross <> f.amount_captured THEN 'amount_mismatch'
                        WHEN f.fee <> (f.gross * %(bps)s + 5000) / 10000 THEN 'fee_mismatch'
                        WHEN f.sale_date <> %(day)s THEN 'late'
                        ELSE 'matched' END
                    WHEN f.kind = %(refund)s AND paired.refund_id IS NOT NULL THEN 'matched'
                    WHEN f.kind = %(chargeback)s AND confirmed.dispute_id IS NOT NULL THEN 'matched'
                    WHEN f.kind = %(chargeback)s THEN 'chargeback'
                    ELSE 'unknown'
                END,
                CASE WHEN f.kind = %(sale)s THEN f.amount_captured END,
                CASE WHEN f.kind = %(sale)s THEN (f.gross * %(bps)s + 5000) / 10000 END
            FROM found f
            LEFT JOIN paired ON paired.line_no = f.line_no
            LEFT JOIN confirmed ON confirmed.line_no = f.line_no
            LEFT JOIN settled_before ON settled_before.payment_id = f.payment_id AND f.kind = %(sale)s
            """,  # noqa: S608
            {
                "run": run_id,
                "provider": provider,
                "currency": currency,
                "day": business_date,
                "bps": fee_bps,
                "sale": LineKind.SALE.value,
                "refund": LineKind.REFUND.value,
                "chargeback": LineKind.CHARGEBACK.value,
            },
        )


def prepare_session() -> None:
    """Room for the run's hash joins and aggregates over a whole report (PostgreSQL's default
    work_mem, 4 MB, spills them to disk), for this transaction only."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SET LOCAL work_mem = '{WORK_MEM}'")


def refresh_statistics() -> None:
    """A run adds up to millions of lines in its own transaction, before autovacuum can see them:
    without fresh statistics, the queries that follow plan for an empty table."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE reconciliation_line")


def line_summary(*, run_id: int) -> dict[str, dict[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT classification, COUNT(*), SUM(gross), SUM(fee), SUM(net) FROM reconciliation_line
               WHERE run_id = %s GROUP BY classification ORDER BY classification""",
            [run_id],
        )
        return {
            name: {"count": count, "gross": int(gross), "fee": int(fee), "net": int(net)}
            for name, count, gross, fee, net in cursor.fetchall()
        }


def open_cases(*, run_id: int, provider: str, currency: str, business_date: date) -> None:
    """Opens a case for every discrepant line, for every payment captured that day that no line
    settled, and for every refund that succeeded that day that no line matched (unless a case says
    so already)."""
    start = datetime.combine(business_date, time.min, tzinfo=UTC)
    params = {
        "run": run_id,
        "provider": provider,
        "currency": currency,
        "start": start,
        "end": start + timedelta(days=1),
        "open": CaseStatus.OPEN.value,
        "sale": LineKind.SALE.value,
        "late": CaseKind.LATE.value,
        "missing": CaseKind.MISSING.value,
        "refund_missing": CaseKind.REFUND_MISSING.value,
        "receivable": CounterAccount.RECEIVABLE.value,
        "provider_fees": CounterAccount.PROVIDER_FEES.value,
        "amount_mismatch": CaseKind.AMOUNT_MISMATCH.value,
        "fee_mismatch": CaseKind.FEE_MISMATCH.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(
            f"""
            INSERT INTO reconciliation_discrepancy (
                run_id, line_id, payment_id, kind, counter_account, amount, currency, status, resolution,
                resolved_by, note, created_at)
            SELECT %(run)s, c.line_id, c.payment_id, c.kind,
                CASE WHEN c.kind = %(fee_mismatch)s THEN %(provider_fees)s ELSE %(receivable)s END,
                c.amount, %(currency)s, %(open)s, '', '', '', CURRENT_TIMESTAMP
            FROM (
                SELECT l.id AS line_id, l.payment_id, l.kind AS line_kind,
                    CASE
                        WHEN l.classification IN ({_SETTLING})
                         AND (closed.id IS NOT NULL OR closed_refund.id IS NOT NULL) THEN %(late)s
                        WHEN l.classification IN ({_LINE_CASES}) THEN l.classification
                    END AS kind,
                    CASE
                        WHEN l.classification IN ({_SETTLING})
                         AND (closed.id IS NOT NULL OR closed_refund.id IS NOT NULL) THEN -l.gross
                        WHEN l.classification = %(amount_mismatch)s THEN l.expected_gross - l.gross
                        WHEN l.classification = %(fee_mismatch)s THEN l.fee - l.expected_fee
                        ELSE -l.gross
                    END AS amount
                FROM reconciliation_line l
                LEFT JOIN reconciliation_discrepancy closed
                  ON l.kind = %(sale)s AND closed.payment_id = l.payment_id AND closed.kind = %(missing)s
                 AND closed.resolution IN ({_CLOSED_FOR_GOOD})
                -- likewise a refund the provider takes back after its `refund_missing` case was closed
                LEFT JOIN reconciliation_discrepancy closed_refund
                  ON closed_refund.refund_id = l.refund_id AND closed_refund.kind = %(refund_missing)s
                 AND closed_refund.resolution IN ({_CLOSED_FOR_GOOD})
                WHERE l.run_id = %(run)s
            ) c
            WHERE c.kind IS NOT NULL AND c.amount <> 0
            """,  # noqa: S608
            params,
        )
        cursor.execute(
            f"""
            INSERT INTO reconciliation_discrepancy (
                run_id, line_id, payment_id, kind, counter_account, amount, currency, status, resolution,
                resolved_by, note, created_at)
            SELECT %(run)s, NULL, p.id, %(missing)s, %(receivable)s, p.amount_captured, p.currency, %(open)s, '', '',
                '', CURRENT_TIMESTAMP
            FROM payments_payment p
            JOIN payments_provideroperation o
              ON o.payment_id = p.id AND o.kind = 'capture' AND o.status = 'succeeded'
             AND o.completed_at >= %(start)s AND o.completed_at < %(end)s
            WHERE p.provider = %(provider)s AND p.currency = %(currency)s AND p.amount_captured > 0
              AND NOT EXISTS (
                  SELECT 1 FROM reconciliation_line l
                  WHERE l.payment_id = p.id AND l.kind = %(sale)s AND l.classification IN ({_SETTLING}))
              AND NOT EXISTS (
                  SELECT 1 FROM reconciliation_discrepancy c WHERE c.payment_id = p.id AND c.kind = %(missing)s)
            """,  # noqa: S608
            params,
        )
        # The provider did not take the refund out of its payout: we received more than we expected.
        cursor.execute(
            """
            INSERT INTO reconciliation_discrepancy (
                run_id, line_id, payment_id, refund_id, kind, counter_account, amount, currency, status, resolution,
                resolved_by, note, created_at)
            SELECT %(run)s, NULL, r.payment_id, r.id, %(refund_missing)s, %(receivable)s, -r.amount, r.currency,
                %(open)s, '', '', '', CURRENT_TIMESTAMP
            FROM payments_refund r
            JOIN payments_payment p ON p.id = r.payment_id
            JOIN payments_provideroperation o
              ON o.refund_id = r.id AND o.kind = 'refund' AND o.status = 'succeeded'
             AND o.completed_at >= %(start)s AND o.completed_at < %(end)s
            WHERE r.status = 'succeeded' AND r.currency = %(currency)s AND p.provider = %(provider)s
              AND NOT EXISTS (SELECT 1 FROM reconciliation_line l WHERE l.refund_id = r.id)
              AND NOT EXISTS (
                  SELECT 1 FROM reconciliation_discrepancy c WHERE c.refund_id = r.id AND c.kind = %(refund_missing)s)
            """,
            params,
        )


def missing_cases_paid_by(*, run_id: int) -> list[tuple[int, int]]:
    """The open `missing` cases whose payment a line of this run settled, and the open
    `refund_missing` cases whose refund a line of this run matched: (case id, amount). Few cases
    are open at a time, so each is looked up in the lines (by the settled-once and matched-once
    indexes)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT c.id, c.amount FROM reconciliation_discrepancy c
                WHERE c.status = %(open)s AND (
                    (c.kind = %(missing)s AND EXISTS (
                        SELECT 1 FROM reconciliation_line l
                        WHERE l.payment_id = c.payment_id AND l.kind = %(sale)s AND l.classification IN ({_SETTLING})
                          AND l.run_id = %(run)s))
                    OR (c.kind = %(refund_missing)s AND EXISTS (
                        SELECT 1 FROM reconciliation_line l WHERE l.refund_id = c.refund_id AND l.run_id = %(run)s)))
                ORDER BY c.id""",  # noqa: S608
            {
                "open": CaseStatus.OPEN.value,
                "missing": CaseKind.MISSING.value,
                "refund_missing": CaseKind.REFUND_MISSING.value,
                "sale": LineKind.SALE.value,
                "run": run_id,
            },
        )
        return [(case_id, int(amount)) for case_id, amount in cursor.fetchall()]


def case_totals(*, run_id: int) -> dict[str, int]:
    """What the run's new cases move into suspense, by the account they move it from."""
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT counter_account, SUM(amount) FROM reconciliation_discrepancy WHERE run_id = %s
               GROUP BY counter_account""",
            [run_id],
        )
        return {account: int(total) for account, total in cursor.fetchall()}


def case_summary(*, run_id: int) -> dict[str, dict[str, int]]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT kind, COUNT(*), SUM(amount) FROM reconciliation_discrepancy WHERE run_id = %s
               GROUP BY kind ORDER BY kind""",
            [run_id],
        )
        return {kind: {"count": count, "amount": int(amount)} for kind, count, amount in cursor.fetchall()}
