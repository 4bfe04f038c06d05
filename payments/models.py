from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Now
from django_fsm import FSMField, FSMModelMixin, transition

from core.ids import new_id, new_operation_id, new_payment_id, new_refund_id
from core.money import MAX_AMOUNT


class PaymentStatus(models.TextChoices):
    CREATED = "created"
    AUTHORIZATION_REQUESTED = "authorization_requested"
    AUTHORIZED = "authorized"
    CAPTURED = "captured"
    SETTLED = "settled"
    FAILED = "failed"
    CANCELED = "canceled"
    REFUNDED = "refunded"
    CHARGED_BACK = "charged_back"


class CaptureMethod(models.TextChoices):
    AUTOMATIC = "automatic"
    MANUAL = "manual"


class CancellationReason(models.TextChoices):
    REQUESTED = "requested_by_merchant"
    CAPTURE_WINDOW_EXPIRED = "capture_window_expired"


class Payment(FSMModelMixin, models.Model):
    """A payment's lifecycle as a state machine. Transitions only change the row; provider calls,
    events and ledger postings live in payments.services around them."""

    id = models.CharField(primary_key=True, max_length=40, default=new_payment_id, editable=False)
    # No index of its own: payment_merchant_idx (merchant, -id) serves every lookup by merchant.
    merchant = models.ForeignKey(
        "merchants.Merchant", on_delete=models.PROTECT, related_name="payments", db_index=False
    )
    status = FSMField(default=PaymentStatus.CREATED, choices=PaymentStatus.choices, protected=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    amount_capturable = models.BigIntegerField(default=0)
    amount_captured = models.BigIntegerField(default=0)
    amount_refunded = models.BigIntegerField(default=0)
    # Refunds sent to the provider whose outcome is not known yet: reserved so that concurrent
    # refunds can never together exceed what was captured.
    amount_refund_pending = models.BigIntegerField(default=0)
    capture_method = models.CharField(max_length=16, choices=CaptureMethod.choices, default=CaptureMethod.AUTOMATIC)
    capture_before = models.DateTimeField(null=True, blank=True)
    provider = models.CharField(max_length=16, blank=True, default="")
    provider_reference = models.CharField(max_length=64, blank=True, default="")
    payment_method = models.JSONField()
    reference = models.CharField(max_length=255, blank=True, default="")
    description = models.CharField(max_length=1000, blank=True, default="")
    metadata = models.JSONField(default=dict, blank=True)
    failure_code = models.CharField(max_length=64, blank=True, default="")
    failure_message = models.CharField(max_length=500, blank=True, default="")
    cancellation_reason = models.CharField(max_length=32, blank=True, default="", choices=CancellationReason.choices)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1, amount__lte=MAX_AMOUNT), name="payment_amount_range"),
            models.CheckConstraint(
                condition=Q(amount_capturable__gte=0, amount_capturable__lte=F("amount")),
                name="payment_capturable_range",
            ),
            models.CheckConstraint(
                condition=Q(amount_captured__gte=0, amount_captured__lte=F("amount")), name="payment_captured_range"
            ),
            models.CheckConstraint(
                condition=Q(amount_refunded__gte=0, amount_refund_pending__gte=0)
                & Q(amount_refunded__lte=F("amount_captured") - F("amount_refund_pending")),
                name="payment_refunds_within_captured",
            ),
            models.CheckConstraint(condition=Q(status__in=PaymentStatus.values), name="payment_status_valid"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="payment_currency_format"),
        ]
        indexes = [
            models.Index(fields=["merchant", "-id"], name="payment_merchant_idx"),
            models.Index(fields=["merchant", "reference"], name="payment_merchant_reference_idx"),
            models.Index(
                fields=["capture_before"], name="payment_authorized_expiry_idx", condition=Q(status="authorized")
            ),
        ]

    def __str__(self) -> str:
        return self.id

    # --- transitions: the row only ------------------------------------------------------------
    @transition(field=status, source=PaymentStatus.CREATED, target=PaymentStatus.AUTHORIZATION_REQUESTED)
    def request_authorization(self, *, provider: str) -> None:
        self.provider = provider

    @transition(field=status, source=PaymentStatus.AUTHORIZATION_REQUESTED, target=PaymentStatus.AUTHORIZED)
    def authorize(self, *, provider_reference: str, capture_before) -> None:
        self.provider_reference = provider_reference
        self.amount_capturable = self.amount
        self.capture_before = capture_before

    @transition(field=status, source=PaymentStatus.AUTHORIZATION_REQUESTED, target=PaymentStatus.FAILED)
    def fail(self, *, code: str, message: str) -> None:
        self.failure_code = code
        self.failure_message = message[:500]

    @transition(field=status, source=PaymentStatus.AUTHORIZED, target=PaymentStatus.CAPTURED)
    def capture(self, *, amount: int) -> None:
        self.amount_captured = amount
        self.amount_capturable = 0

    # The provider paid the capture out (reconciliation matched it in a settlement report). Batches
    # of payments are settled with the same rule in SQL: payments.settlement.
    @transition(field=status, source=PaymentStatus.CAPTURED, target=PaymentStatus.SETTLED)
    def settle(self) -> None:
        pass

    @transition(field=status, source=[PaymentStatus.CREATED, PaymentStatus.AUTHORIZED], target=PaymentStatus.CANCELED)
    def cancel(self, *, reason: str) -> None:
        self.cancellation_reason = reason
        self.amount_capturable = 0

    @transition(field=status, source=[PaymentStatus.CAPTURED, PaymentStatus.SETTLED], target=PaymentStatus.REFUNDED)
    def mark_refunded(self) -> None:
        pass

    # A lost dispute is the last word on a captured payment, settled or not. A cardholder can also
    # dispute a payment the merchant refunded in full (and the merchant can lose): hence REFUNDED.
    @transition(
        field=status,
        source=[PaymentStatus.CAPTURED, PaymentStatus.SETTLED, PaymentStatus.REFUNDED],
        target=PaymentStatus.CHARGED_BACK,
    )
    def charge_back(self) -> None:
        pass


class RefundStatus(models.TextChoices):
    PENDING = "pending"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Refund(FSMModelMixin, models.Model):
    id = models.CharField(primary_key=True, max_length=40, default=new_refund_id, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="refunds")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="refunds")
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    status = FSMField(default=RefundStatus.PENDING, choices=RefundStatus.choices, protected=True)
    reason = models.CharField(max_length=500, blank=True, default="")
    failure_code = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(amount__gte=1, amount__lte=MAX_AMOUNT), name="refund_amount_range"),
            models.CheckConstraint(condition=Q(status__in=RefundStatus.values), name="refund_status_valid"),
        ]
        indexes = [models.Index(fields=["payment", "id"], name="refund_payment_idx")]

    def __str__(self) -> str:
        return self.id

    @transition(field=status, source=RefundStatus.PENDING, target=RefundStatus.SUCCEEDED)
    def succeed(self) -> None:
        pass

    @transition(field=status, source=RefundStatus.PENDING, target=RefundStatus.FAILED)
    def fail(self, *, code: str) -> None:
        self.failure_code = code


class OperationKind(models.TextChoices):
    AUTHORIZE = "authorize"
    CAPTURE = "capture"
    VOID = "void"
    REFUND = "refund"


class OperationStatus(models.TextChoices):
    PENDING = "pending"  # intent recorded and committed; the provider call is (or was) under way
    UNKNOWN = "unknown"  # the call's outcome is not known; status polling resolves it
    SUCCEEDED = "succeeded"
    FAILED = "failed"


OPEN_OPERATION_STATUSES = (OperationStatus.PENDING, OperationStatus.UNKNOWN)


class ProviderOperation(models.Model):
    """One call to a provider: the intent written before the call, the result applied after it.
    Its `reference` is the idempotency reference the provider receives, so a retried or polled
    operation can never be executed twice at the provider."""

    id = models.CharField(primary_key=True, max_length=40, default=new_operation_id, editable=False)
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="operations")
    refund = models.OneToOneField(Refund, on_delete=models.PROTECT, null=True, blank=True, related_name="operation")
    kind = models.CharField(max_length=16, choices=OperationKind.choices)
    provider = models.CharField(max_length=16)
    amount = models.BigIntegerField()
    reference = models.CharField(max_length=80, unique=True)
    status = models.CharField(max_length=16, choices=OperationStatus.choices, default=OperationStatus.PENDING)
    provider_reference = models.CharField(max_length=64, blank=True, default="")
    result_code = models.CharField(max_length=64, blank=True, default="")
    result_message = models.CharField(max_length=500, blank=True, default="")
    latency_ms = models.PositiveIntegerField(null=True, blank=True)
    status_checks = models.PositiveIntegerField(default=0, help_text="Status polls made to resolve an unknown outcome.")
    next_check_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            # At most one authorization/capture/void in flight per payment: the database, not
            # Python, decides which of two concurrent requests gets to call the provider.
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(kind__in=["authorize", "capture", "void"], status__in=["pending", "unknown"]),
                name="one_open_state_operation_per_payment",
            ),
            # One capture per payment, ever (a failed capture may be tried again).
            models.UniqueConstraint(
                fields=["payment"],
                condition=Q(kind="capture", status__in=["pending", "unknown", "succeeded"]),
                name="one_capture_per_payment",
            ),
            models.CheckConstraint(condition=Q(amount__gte=1), name="operation_amount_positive"),
        ]
        indexes = [
            models.Index(
                fields=["next_check_at"], name="operation_open_idx", condition=Q(status__in=["pending", "unknown"])
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.payment_id} ({self.status})"


def new_dispute_id() -> str:
    return new_id("dp")


class DisputeStatus(models.TextChoices):
    NEEDS_RESPONSE = "needs_response"
    UNDER_REVIEW = "under_review"
    WON = "won"
    LOST = "lost"


OPEN_DISPUTE_STATUSES = (DisputeStatus.NEEDS_RESPONSE, DisputeStatus.UNDER_REVIEW)


class DisputeReason(models.TextChoices):
    FRAUDULENT = "fraudulent"
    PRODUCT_NOT_RECEIVED = "product_not_received"
    PRODUCT_UNACCEPTABLE = "product_unacceptable"
    DUPLICATE = "duplicate"
    CREDIT_NOT_PROCESSED = "credit_not_processed"
    GENERAL = "general"


class DisputeResponse(models.TextChoices):
    """The merchant's answer to a dispute."""

    EVIDENCE = "evidence"
    ACCEPTANCE = "acceptance"


class Dispute(FSMModelMixin, models.Model):
    """A cardholder's dispute (chargeback) of a captured payment, opened by the provider's
    notification. The merchant answers once (evidence, or acceptance), and the provider's later
    notification decides it. Transitions only change the row; payments.disputes does the rest
    (ledger, events, the answer sent to the provider)."""

    id = models.CharField(primary_key=True, max_length=40, default=new_dispute_id, editable=False)
    merchant = models.ForeignKey("merchants.Merchant", on_delete=models.PROTECT, related_name="disputes")
    payment = models.ForeignKey(Payment, on_delete=models.PROTECT, related_name="disputes")
    provider = models.CharField(max_length=16)
    provider_dispute_id = models.CharField(max_length=64)
    status = FSMField(default=DisputeStatus.NEEDS_RESPONSE, choices=DisputeStatus.choices, protected=True)
    amount = models.BigIntegerField()
    currency = models.CharField(max_length=3)
    reason = models.CharField(max_length=32, choices=DisputeReason.choices, default=DisputeReason.GENERAL)
    reason_code = models.CharField(max_length=16, blank=True, default="", help_text="The card network's code.")
    reason_message = models.CharField(max_length=500, blank=True, default="")
    evidence = models.TextField(blank=True, default="")
    evidence_due_by = models.DateTimeField(null=True, blank=True)
    # The merchant's answer, and its delivery to the provider: sent outside any transaction, and
    # retried (payments.tasks.send_dispute_responses) until the provider takes or refuses it.
    response = models.CharField(max_length=16, blank=True, default="", choices=DisputeResponse.choices)
    responded_at = models.DateTimeField(null=True, blank=True)
    response_sent_at = models.DateTimeField(null=True, blank=True)
    response_error = models.CharField(max_length=500, blank=True, default="")
    response_attempts = models.PositiveIntegerField(default=0)
    response_next_attempt_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(db_default=Now(), editable=False)
    updated_at = models.DateTimeField(db_default=Now())

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["provider", "provider_dispute_id"], name="dispute_provider_id_unique"),
            # A payment is disputed at most once (as a card network's chargeback cycle allows).
            models.UniqueConstraint(fields=["payment"], name="one_dispute_per_payment"),
            models.CheckConstraint(condition=Q(amount__gte=1, amount__lte=MAX_AMOUNT), name="dispute_amount_range"),
            models.CheckConstraint(condition=Q(status__in=DisputeStatus.values), name="dispute_status_valid"),
            models.CheckConstraint(condition=Q(currency__regex=r"^[A-Z]{3}$"), name="dispute_currency_format"),
            models.CheckConstraint(
                condition=Q(response__in=["", *DisputeResponse.values]), name="dispute_response_valid"
            ),
            # Under review only with evidence; evidence only as an answer that was given.
            models.CheckConstraint(
                condition=~Q(status=DisputeStatus.UNDER_REVIEW) | Q(response=DisputeResponse.EVIDENCE),
                name="dispute_under_review_has_evidence",
            ),
            models.CheckConstraint(
                condition=~Q(response=DisputeResponse.EVIDENCE) | ~Q(evidence=""),
                name="dispute_evidence_not_empty",
            ),
        ]
        indexes = [
            models.Index(fields=["merchant", "-id"], name="dispute_merchant_idx"),
            models.Index(
                fields=["response_next_attempt_at"],
                name="dispute_response_unsent_idx",
                condition=~Q(response="") & Q(response_sent_at__isnull=True, response_error=""),
            ),
        ]
        # Operators answer disputes in the admin for merchants; everything else about them is read-only.
        permissions = [("answer_dispute", "Can answer disputes (submit evidence or accept)")]

    def __str__(self) -> str:
        return self.id

    @property
    def is_open(self) -> bool:
        return self.status in OPEN_DISPUTE_STATUSES

    @transition(field=status, source=DisputeStatus.NEEDS_RESPONSE, target=DisputeStatus.UNDER_REVIEW)
    def submit_evidence(self, *, evidence: str) -> None:
        self.evidence = evidence
        self.response = DisputeResponse.EVIDENCE

    @transition(field=status, source=DisputeStatus.NEEDS_RESPONSE, target=DisputeStatus.LOST)
    def accept(self) -> None:
        self.response = DisputeResponse.ACCEPTANCE

    @transition(field=status, source=list(OPEN_DISPUTE_STATUSES), target=DisputeStatus.WON)
    def win(self) -> None:
        pass

    @transition(field=status, source=list(OPEN_DISPUTE_STATUSES), target=DisputeStatus.LOST)
    def lose(self) -> None:
        pass
