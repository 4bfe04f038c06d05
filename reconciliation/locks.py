"""Named lock helpers. Lock order: payment (payments.locks), then discrepancy, then (inside
ledger.services.entry_post, last) ledger accounts."""

from .errors import DiscrepancyNotFound
from .models import Discrepancy


def lock_discrepancy(*, discrepancy_id: int) -> Discrepancy:
    case = Discrepancy.objects.select_for_update().filter(pk=discrepancy_id).first()
    if case is None:
        raise DiscrepancyNotFound(f"No such discrepancy: {discrepancy_id}")
    return case
