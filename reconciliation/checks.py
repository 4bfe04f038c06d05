"""Domain checks that `manage.py ledger_verify` runs for reconciliation: the entries of every run
and every resolution carry exactly the amounts the runs and cases record, and every settled payment
was settled by a report's line. Each is one SQL statement (one consistent snapshot)."""

from collections.abc import Iterable

from django.db import connection

from .models import SETTLING_CLASSES

_SETTLING = ", ".join(f"'{value}'" for value in SETTLING_CLASSES)

# Per run: the settlement entry moves the report's totals (bank = net, fees = fee, receivable =
# -gross), and the adjustment entry moves into suspense what its cases hold, less what it took
# back out for earlier `missing` cases the report paid.
_RUNS_DISAGREE = """
WITH posted AS (
    SELECT po.entry_id, a.code, SUM(po.amount) AS amount
    FROM ledger_posting po JOIN ledger_account a ON a.id = po.account_id
    WHERE po.entry_id IN (
        SELECT settlement_entry_id FROM reconciliation_run UNION SELECT adjustment_entry_id FROM reconciliation_run
    )
    GROUP BY po.entry_id, a.code
), expected AS (
    SELECT r.id, r.settlement_entry_id, r.adjustment_entry_id, r.net_total, r.fee_total, r.gross_total,
        r.provider,
        COALESCE((SELECT SUM(c.amount) FROM reconciliation_discrepancy c WHERE c.run_id = r.id), 0)
        - COALESCE((SELECT SUM(c.amount) FROM reconciliation_discrepancy c
                     WHERE c.resolution_entry_id = r.adjustment_entry_id), 0) AS suspense
    FROM reconciliation_run r
)
SELECT e.id, e.net_total, e.fee_total, -e.gross_total, e.suspense,
    COALESCE(bank.amount, 0), COALESCE(fees.amount, 0), COALESCE(receivable.amount, 0), COALESCE(suspense.amount, 0)
FROM expected e
LEFT JOIN posted bank ON bank.entry_id = e.settlement_entry_id AND bank.code = 'platform:bank'
LEFT JOIN posted fees ON fees.entry_id = e.settlement_entry_id AND fees.code = 'platform:provider_fees'
LEFT JOIN posted receivable
  ON receivable.entry_id = e.settlement_entry_id AND receivable.code = 'provider:' || e.provider || ':receivable'
LEFT JOIN posted suspense ON suspense.entry_id = e.adjustment_entry_id AND suspense.code = 'platform:suspense'
WHERE (e.net_total, e.fee_total, -e.gross_total, e.suspense)
   <> (COALESCE(bank.amount, 0), COALESCE(fees.amount, 0), COALESCE(receivable.amount, 0), COALESCE(suspense.amount, 0))
ORDER BY e.id
LIMIT 100
"""

# A case resolved by an operator: its entry takes exactly its amount out of suspense.
_RESOLUTIONS_DISAGREE = """
SELECT c.id, c.amount, -COALESCE(SUM(po.amount), 0)
FROM reconciliation_discrepancy c
JOIN ledger_journal_entry e ON e.id = c.resolution_entry_id AND e.entry_type = 'reconciliation.resolution'
LEFT JOIN ledger_posting po
  ON po.entry_id = e.id AND po.account_id IN (SELECT id FROM ledger_account WHERE code = 'platform:suspense')
GROUP BY c.id, c.amount
HAVING c.amount <> -COALESCE(SUM(po.amount), 0)
ORDER BY c.id
LIMIT 100
"""

_SETTLED_WITHOUT_A_LINE = f"""
SELECT p.id FROM payments_payment p
WHERE p.status = 'settled' AND NOT EXISTS (
    SELECT 1 FROM reconciliation_line l
    WHERE l.payment_id = p.id AND l.kind = 'sale' AND l.classification IN ({_SETTLING}))
ORDER BY p.id
LIMIT 100
"""  # noqa: S608 - built from constants


def reconciliation_matches_ledger() -> Iterable[str]:
    with connection.cursor() as cursor:
        cursor.execute(_RUNS_DISAGREE)
        for run_id, net, fee, gross, suspense, bank, fees, receivable, parked in cursor.fetchall():
            yield (
                f"reconciliation run {run_id}: expected bank {net}, fees {fee}, receivable {gross}, suspense "
                f"{suspense}; its entries post {bank}, {fees}, {receivable}, {parked}"
            )
        cursor.execute(_RESOLUTIONS_DISAGREE)
        for case_id, amount, posted in cursor.fetchall():
            yield f"discrepancy {case_id}: holds {amount} but its resolution took {posted} out of suspense"
        cursor.execute(_SETTLED_WITHOUT_A_LINE)
        for (payment_id,) in cursor.fetchall():
            yield f"payment {payment_id}: settled, but no settlement report line settled it"
