from core.errors import ApplicationError, Conflict, NotFound


class PaymentNotFound(NotFound):
    title = "No such payment"


class RefundNotFound(NotFound):
    title = "No such refund"


class CaptureWindowExpired(Conflict):
    code = "capture_window_expired"
    title = "The authorization can no longer be captured"


class AmountExceedsRefundable(Conflict):
    code = "amount_exceeds_refundable"
    title = "The refund is larger than what remains refundable"


class AmountExceedsCapturable(ApplicationError):
    status = 400
    code = "amount_exceeds_capturable"
    title = "The capture amount is larger than the authorized amount"


class ProviderDeclined(ApplicationError):
    """The provider refused an operation on an existing payment (capture, void, refund)."""

    status = 402
    code = "provider_declined"
    title = "The provider declined the operation"


class DisputeNotFound(NotFound):
    title = "No such dispute"


class PaymentDisputed(Conflict):
    code = "payment_disputed"
    title = "The payment is disputed"


class EvidenceDueDatePassed(Conflict):
    code = "evidence_due_date_passed"
    title = "The dispute can no longer be answered"
