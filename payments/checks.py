"""Domain checks that `manage.py ledger_verify` runs: every payment's amounts agree with what
the ledger holds for it. Each is one SQL statement, so it reads one consistent snapshot."""

from collections.abc import Iterable

from django.db import connection

# A capture entry moves the gross from the payer's side (provider receivable for cards, the
# wallet's reservation for wallets) to the merchant payable: what it took from the payer's side
# must equal amount_captured.
_CAPTURES_DISAGREE = """
WITH captured AS (
    SELECT e.reference, SUM(po.amount) AS amount
    FROM ledger_journal_entry e
    JOIN ledger_posting po ON po.entry_id = e.id
    JOIN ledger_account a ON a.id = po.account_id AND a.code NOT LIKE %(merchant)s
    WHERE e.reference LIKE %(capture)s AND po.amount > 0
    GROUP BY e.reference
)
SELECT p.id, p.amount_captured, COALESCE(c.amount, 0)
FROM payments_payment p
LEFT JOIN captured c ON c.reference = 'payment:' || p.id || ':capture'
WHERE p.amount_captured <> COALESCE(c.amount, 0)
ORDER BY p.id
LIMIT 100
"""

# A refund entry moves money from the merchant payable back to the payer's side: the total it
# gave back over a payment's succeeded refunds must equal amount_refunded.
_REFUNDS_DISAGREE = """
WITH refunded AS (
    SELECT r.payment_id, -SUM(po.amount) AS amount
    FROM payments_refund r
    JOIN ledger_journal_entry e ON e.reference = 'refund:' || r.id || ':succeeded'
    JOIN ledger_posting po ON po.entry_id = e.id
    JOIN ledger_account a ON a.id = po.account_id AND a.code NOT LIKE %(merchant)s
    WHERE po.amount < 0
    GROUP BY r.payment_id
)
SELECT p.id, p.amount_refunded, COALESCE(rf.amount, 0)
FROM payments_payment p
LEFT JOIN refunded rf ON rf.payment_id = p.id
WHERE p.amount_refunded <> COALESCE(rf.amount, 0)
ORDER BY p.id
LIMIT 100
"""


_PARAMS = {"merchant": "merchant:%", "capture": "payment:%:capture"}


def payment_amounts_match_ledger() -> Iterable[str]:
    with connection.cursor() as cursor:
        cursor.execute(_CAPTURES_DISAGREE, _PARAMS)
        for payment_id, stored, posted in cursor.fetchall():
            yield f"payment {payment_id}: amount_captured {stored} but the ledger holds {posted} captured"
        cursor.execute(_REFUNDS_DISAGREE, _PARAMS)
        for payment_id, stored, posted in cursor.fetchall():
            yield f"payment {payment_id}: amount_refunded {stored} but the ledger holds {posted} refunded"


# A dispute's opening entry took its amount from the merchant (a debit of the merchant payable);
# a won dispute's entry gave it back, and only a won one has such an entry; a lost dispute's
# payment is charged back, and a charged-back payment has a lost dispute.
_DISPUTES_DISAGREE = """
WITH merchant_side AS (
    SELECT e.reference, SUM(po.amount) AS amount
    FROM ledger_journal_entry e
    JOIN ledger_posting po ON po.entry_id = e.id
    JOIN ledger_account a ON a.id = po.account_id AND a.code LIKE %(merchant)s
    WHERE e.reference LIKE %(dispute)s
    GROUP BY e.reference
)
SELECT d.id, d.status, d.amount, COALESCE(o.amount, 0), COALESCE(-w.amount, 0), p.status
FROM payments_dispute d
JOIN payments_payment p ON p.id = d.payment_id
LEFT JOIN merchant_side o ON o.reference = 'dispute:' || d.id || ':opened'
LEFT JOIN merchant_side w ON w.reference = 'dispute:' || d.id || ':won'
WHERE COALESCE(o.amount, 0) <> d.amount
   OR COALESCE(-w.amount, 0) <> CASE WHEN d.status = 'won' THEN d.amount ELSE 0 END
   OR (d.status = 'lost') <> (p.status = 'charged_back')
ORDER BY d.id
LIMIT 100
"""

_CHARGED_BACK_WITHOUT_LOST_DISPUTE = """
SELECT p.id
FROM payments_payment p
WHERE p.status = 'charged_back'
  AND NOT EXISTS (SELECT 1 FROM payments_dispute d WHERE d.payment_id = p.id AND d.status = 'lost')
ORDER BY p.id
LIMIT 100
"""


def disputes_match_ledger() -> Iterable[str]:
    with connection.cursor() as cursor:
        cursor.execute(_DISPUTES_DISAGREE, {"merchant": "merchant:%", "dispute": "dispute:%"})
        for dispute_id, status, amount, taken, returned, payment_status in cursor.fetchall():
            yield (
                f"dispute {dispute_id} ({status}, {amount}): the ledger took {taken} from the merchant and"
                f" returned {returned}; its payment is {payment_status}"
            )
        cursor.execute(_CHARGED_BACK_WITHOUT_LOST_DISPUTE)
        for (payment_id,) in cursor.fetchall():
            yield f"payment {payment_id} is charged back without a lost dispute"
