"""What every layout reads into and writes from: provider-neutral settlement lines."""

from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from typing import NamedTuple


class LineKind(StrEnum):
    SALE = "sale"
    REFUND = "refund"  # a cancellation after capture, deducted from the payout
    CHARGEBACK = "chargeback"
    ADJUSTMENT = "adjustment"  # any other debit or credit the provider makes (reversals, manual adjustments)


class SettlementLine(NamedTuple):
    """One transaction or adjustment the provider settles. Amounts are minor units and signed from
    our side: positive is money the provider pays us, negative money it takes back. `fee` is what
    the provider kept; `net = gross - fee` is what reaches the bank."""

    kind: str
    sale_date: date  # the sale's (capture's) date; for refunds and chargebacks the original sale's
    gross: int
    fee: int
    net: int
    tid: str = ""
    nsu: str = ""
    authorization_code: str = ""
    order_reference: str = ""  # the order id the merchant sent, as far as the layout's field holds it
    provider_payment_id: str = ""  # the provider's API id of the payment, where the layout carries it


class KeySource(StrEnum):
    """Which of our references a layout's matching key is."""

    ORDER_REFERENCE = "order_reference"  # what we sent as the order id: our payment id
    PROVIDER_REFERENCE = "provider_reference"  # the id the provider's API answered the authorization with


@dataclass(frozen=True)
class MatchKey:
    """The field of a SettlementLine that identifies the payment, and what it holds."""

    line_field: str
    source: KeySource


@dataclass(frozen=True)
class ReportHeader:
    business_date: date  # the day whose transactions the file reports
    payment_date: date  # when the provider pays them
    establishment: str  # the merchant's number at the provider (EC, PV, establishment)
    sequence: int = 1


@dataclass(frozen=True)
class Totals:
    records: int  # every record of the file, headers and trailers included
    gross: int
    fee: int
    net: int
