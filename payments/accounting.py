"""How payments post to the ledger (docs/ledger.md, "Posting rules for payments").

Each function runs inside the transaction that changes the payment, after its row locks, so the
state change, its event and its postings commit together or not at all. References are built
from the business event, so a retried apply can never post twice.

| event | reference | debit | credit |
|---|---|---|---|
| card capture | `payment:{id}:capture` | provider receivable (gross) | merchant payable (gross) |
| ... platform fee, same entry | | merchant payable (fee) | platform fees (fee) |
| wallet capture's platform fee | `payment:{id}:fee` | merchant payable (fee) | platform fees (fee) |
| card refund succeeded | `refund:{id}:succeeded` | merchant payable (amount) | provider receivable (amount) |
| wallet reserve / release / capture / refund | `payment:{id}:wallet_reserve`, ... | see wallets.services | |
| dispute opened (chargeback) | `dispute:{id}:opened` | merchant payable (amount) | provider receivable (amount) |
| dispute won (funds reinstated) | `dispute:{id}:won` | provider receivable (amount) | merchant payable (amount) |

Fees are not returned on refunds, as card schemes and most acquirers do.
"""

from django.conf import settings

from ledger import chart
from ledger.models import AccountType
from ledger.services import PostingLine, account_get_or_create, entry_post, platform_account_get_or_create

from .models import Dispute, Payment, Refund


def capture_reference(payment_id: str) -> str:
    return f"payment:{payment_id}:capture"


def fee_reference(payment_id: str) -> str:
    return f"payment:{payment_id}:fee"


def refund_reference(refund_id: str) -> str:
    return f"refund:{refund_id}:succeeded"


def wallet_reserve_reference(payment_id: str) -> str:
    return f"payment:{payment_id}:wallet_reserve"


def wallet_release_reference(payment_id: str) -> str:
    return f"payment:{payment_id}:wallet_release"


def platform_fee(amount: int) -> int:
    """PLATFORM_FEE_BPS basis points of the captured amount, rounded half up, in minor units."""
    return (amount * settings.PLATFORM_FEE_BPS + 5_000) // 10_000


def merchant_payable(payment: Payment):
    return account_get_or_create(
        code=chart.merchant_payable_code(payment.merchant_id),
        currency=payment.currency,
        type=AccountType.LIABILITY,
        name=f"Payable to merchant {payment.merchant_id}",
    )


def provider_receivable(payment: Payment):
    return platform_account_get_or_create(
        code=chart.provider_receivable_code(payment.provider), currency=payment.currency
    )


def post_capture(*, payment: Payment, amount: int) -> None:
    """A card capture: the provider now owes us the gross, and we owe it to the merchant less the
    platform's fee, in one entry."""
    payable = merchant_payable(payment)
    entry_post(
        reference=capture_reference(payment.id),
        entry_type="payment.capture",
        lines=[
            PostingLine(account=provider_receivable(payment), amount=amount),
            PostingLine(account=payable, amount=-amount),
            *_fee_lines(payment, payable, amount),
        ],
        metadata={"payment_id": payment.id, "merchant_id": payment.merchant_id, "provider": payment.provider},
    )


def post_wallet_fee(*, payment: Payment, amount: int) -> None:
    """The fee on a wallet capture, whose capture entry the wallets app posts: its own entry."""
    payable = merchant_payable(payment)
    lines = _fee_lines(payment, payable, amount)
    if lines:
        entry_post(
            reference=fee_reference(payment.id),
            entry_type="payment.fee",
            lines=lines,
            metadata={"payment_id": payment.id, "merchant_id": payment.merchant_id},
        )


def _fee_lines(payment: Payment, payable, amount: int) -> list[PostingLine]:
    fee = platform_fee(amount)
    if not fee:
        return []
    fees = platform_account_get_or_create(code=chart.PLATFORM_FEES, currency=payment.currency)
    return [PostingLine(account=payable, amount=fee), PostingLine(account=fees, amount=-fee)]


def post_refund(*, payment: Payment, refund: Refund) -> None:
    entry_post(
        reference=refund_reference(refund.id),
        entry_type="refund.succeeded",
        lines=[
            PostingLine(account=merchant_payable(payment), amount=refund.amount),
            PostingLine(account=provider_receivable(payment), amount=-refund.amount),
        ],
        metadata={"payment_id": payment.id, "refund_id": refund.id, "merchant_id": payment.merchant_id},
    )


def dispute_opened_reference(dispute_id: str) -> str:
    return f"dispute:{dispute_id}:opened"


def dispute_won_reference(dispute_id: str) -> str:
    return f"dispute:{dispute_id}:won"


def post_dispute_opened(*, payment: Payment, dispute: Dispute) -> None:
    """The provider takes the disputed amount back from us as the dispute opens; we take it from
    the merchant. A lost dispute posts nothing more."""
    entry_post(
        reference=dispute_opened_reference(dispute.id),
        entry_type="dispute.opened",
        lines=[
            PostingLine(account=merchant_payable(payment), amount=dispute.amount),
            PostingLine(account=provider_receivable(payment), amount=-dispute.amount),
        ],
        metadata={"payment_id": payment.id, "dispute_id": dispute.id, "merchant_id": payment.merchant_id},
    )


def post_dispute_won(*, payment: Payment, dispute: Dispute) -> None:
    """A won dispute: the provider returns the amount, and we owe it to the merchant again."""
    entry_post(
        reference=dispute_won_reference(dispute.id),
        entry_type="dispute.won",
        lines=[
            PostingLine(account=provider_receivable(payment), amount=dispute.amount),
            PostingLine(account=merchant_payable(payment), amount=-dispute.amount),
        ],
        metadata={"payment_id": payment.id, "dispute_id": dispute.id, "merchant_id": payment.merchant_id},
    )
