from core.errors import Conflict, NotFound, ValidationFailed


class ReportRejected(ValidationFailed):
    """The report is not reconciled: malformed, contradicting itself, not of the day or provider
    it was given for, or its day was already reconciled from another file."""

    code = "settlement_report_rejected"
    title = "The settlement report was rejected"


class DiscrepancyNotFound(NotFound):
    title = "No such discrepancy"


class DiscrepancyAlreadyResolved(Conflict):
    code = "discrepancy_already_resolved"
    title = "The discrepancy was already resolved"


class ResolutionNotAllowed(ValidationFailed):
    code = "resolution_not_allowed"
    title = "This resolution does not apply to this discrepancy"
