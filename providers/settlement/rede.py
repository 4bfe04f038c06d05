"""Rede, EEVC (credit sales) and EEFI (financial), as /work/shared/SETTLEMENT_FORMATS.md
describes them. A day's report is the day's EEVC file followed by its EEFI file:

    002  EEVC header              030  EEFI header
    006  sales summary (RV)       034  credit order: the payment of an RV's net
    034  e-commerce sale          035  adjustment: a cancellation, chargeback or other debit
    028  EEVC trailer             052  EEFI trailer

Record types 034 mean different things in the two files, so the reader keeps track of which one
it is in. Amounts are 15 unsigned digits; the direction comes from the record (sales are credits,
035 adjustments debits). Dates are DDMMAAAA.

Layout choices the manual leaves free, made here and easy to correct: the headers (file date,
`REDECARD`, PV, sequence), both trailers (record count of their own file, headers and trailers
included, then totals), the EEFI header's type 030, and the 035 reason codes (01 cancellation,
02 chargeback; anything else is another adjustment).

A sale carries no fee: the fee (discount) is the RV's. Each sale's share of it is allocated by
cumulative rounding, so the shares always add up to the RV's discount exactly (the sandbox writes
one sale per RV, so each sale's own fee survives a round trip). A 035 adjustment carries no TID:
it names the original sale by NSU, authorization code and sale date, which is how it is matched.
"""

from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from .errors import ReportFormatError
from .layout import Field, Kind, Record, decoded_lines
from .lines import KeySource, LineKind, MatchKey, ReportHeader, SettlementLine, Totals

NAME = "rede"
LENGTH = 256
EOL = "\r\n"
MATCH_KEY = MatchKey("tid", KeySource.PROVIDER_REFERENCE)


def _file_header(code: str) -> Record:
    return Record(
        code,
        (
            Field("type", 1, 3, value=code),
            Field("file_date", 4, 11, Kind.DMY),
            Field("acquirer", 12, 19, value="REDECARD"),
            Field("pv", 20, 28, Kind.DIGITS),
            Field("sequence", 29, 34, Kind.DIGITS),
        ),
        LENGTH,
    )


SALES_HEADER = _file_header("002")
SUMMARY = Record(
    "006",
    (
        Field("type", 1, 3, value="006"),
        Field("pv", 4, 12, Kind.DIGITS),
        Field("rv", 13, 21, Kind.DIGITS),
        Field("rv_date", 41, 48, Kind.DMY),
        Field("gross", 54, 68, Kind.AMOUNT),
        Field("discount", 99, 113, Kind.AMOUNT),
        Field("net", 114, 128, Kind.AMOUNT),
        Field("credit_date", 129, 136, Kind.DMY),
        Field("brand", 137, 137),
    ),
    LENGTH,
)
SALE = Record(
    "034",
    (
        Field("type", 1, 3, value="034"),
        Field("pv", 4, 12, Kind.DIGITS),
        Field("rv", 13, 21, Kind.DIGITS),
        Field("sale_date", 22, 29, Kind.DMY),
        Field("amount", 30, 44, Kind.AMOUNT),
        Field("nsu", 61, 72, Kind.DIGITS),
        Field("authorization_code", 73, 78),
        Field("tid", 79, 98),
        Field("order_number", 99, 118),
    ),
    LENGTH,
)
SALES_TRAILER = Record(
    "028",
    (
        Field("type", 1, 3, value="028"),
        Field("record_count", 4, 14, Kind.AMOUNT),
        Field("gross_total", 15, 29, Kind.AMOUNT),
        Field("discount_total", 30, 44, Kind.AMOUNT),
        Field("net_total", 45, 59, Kind.AMOUNT),
    ),
    LENGTH,
)
FINANCIAL_HEADER = _file_header("030")
CREDIT = Record(
    "034",
    (
        Field("type", 1, 3, value="034"),
        Field("pv", 4, 12, Kind.DIGITS),
        Field("credit_order", 13, 23, Kind.DIGITS),
        Field("posting_date", 24, 31, Kind.DMY),
        Field("amount", 32, 46, Kind.AMOUNT),
        Field("flag", 47, 47, value="C"),
        Field("rv", 76, 84, Kind.DIGITS),
        Field("rv_date", 85, 92, Kind.DMY),
        Field("rv_gross", 95, 109, Kind.AMOUNT),
        Field("discount", 110, 124, Kind.AMOUNT),
    ),
    LENGTH,
)
ADJUSTMENT = Record(
    "035",
    (
        Field("type", 1, 3, value="035"),
        Field("pv", 4, 12, Kind.DIGITS),
        Field("rv", 13, 21, Kind.DIGITS),
        Field("adjustment_date", 22, 29, Kind.DMY),
        Field("amount", 30, 44, Kind.AMOUNT),
        Field("flag", 45, 45, value="D"),
        Field("reason_code", 46, 47, Kind.DIGITS),
        Field("reason_text", 48, 75),
        Field("original_sale_date", 92, 99, Kind.DMY),
        Field("original_rv", 100, 108, Kind.DIGITS),
        Field("nsu", 239, 250, Kind.DIGITS),
        Field("authorization_code", 251, 256),
    ),
    LENGTH,
)
FINANCIAL_TRAILER = Record(
    "052",
    (
        Field("type", 1, 3, value="052"),
        Field("record_count", 4, 14, Kind.AMOUNT),
        Field("credit_total", 15, 29, Kind.AMOUNT),
        Field("adjustment_total", 30, 44, Kind.AMOUNT),
    ),
    LENGTH,
)

# The field is narrower than the order ids merchants may send (e.Rede takes up to 50): a file holds
# only their first characters.
ORDER_NUMBER_WIDTH = SALE.field("order_number").width
REASONS = {"01": LineKind.REFUND, "02": LineKind.CHARGEBACK}
REASON_OF_KIND = {
    LineKind.REFUND: ("01", "CANCELAMENTO"),
    LineKind.CHARGEBACK: ("02", "CHARGEBACK"),
    LineKind.ADJUSTMENT: ("99", "AJUSTE"),
}
BRAND = "1"


class Reader:
    """Reads a day's EEVC + EEFI lazily: `header` at once, the lines by iterating, each file's
    totals checked against its trailer when the iteration reaches it."""

    def __init__(self, chunks: Iterable[str]):
        self._lines = decoded_lines(chunks, LENGTH)
        first = next(self._lines, None)
        if first is None:
            raise ReportFormatError("the file is empty")
        self._read_header = {code: record.reader("file_date", "pv", "sequence") for code, record in _HEADERS.items()}
        number, line = first
        file_date, pv, sequence = self._file_header(number, line, "002")
        self.header = ReportHeader(business_date=file_date, payment_date=file_date, establishment=pv, sequence=sequence)
        self.totals: Totals | None = None

    def _file_header(self, number: int, line: str, code: str):
        try:
            if line[:3] != code:
                raise ValueError(f"expected record {code}")
            file_date, pv, sequence = self._read_header[code](line)
        except ValueError as exc:
            raise ReportFormatError(f"line {number}: not a Rede {_FILE_NAMES[code]} header: {exc}") from exc
        return file_date, pv, int(sequence)

    def __iter__(self) -> Iterator[SettlementLine]:
        sales = _Sales()
        yield from sales.read(self._lines)
        number, line = next(self._lines, (sales.records + 1, None))
        if line is None:
            raise ReportFormatError(f"line {number}: the EEFI file is missing after the EEVC file")
        file_date, _, _ = self._file_header(number, line, "030")
        if file_date != self.header.business_date:
            raise ReportFormatError(f"line {number}: the EEFI file is of {file_date}, the EEVC file of another day")
        financial = _Financial(first_line=number)
        yield from financial.read(self._lines)
        extra = next(self._lines, None)
        if extra is not None:
            raise ReportFormatError(f"line {extra[0]}: records after the EEFI trailer")
        self.totals = Totals(
            records=sales.records + financial.records,
            gross=sales.gross - financial.adjustments,
            fee=sales.discount,
            net=sales.net - financial.adjustments,
        )


_HEADERS = {"002": SALES_HEADER, "030": FINANCIAL_HEADER}
_FILE_NAMES = {"002": "EEVC", "030": "EEFI"}


class _Sales:
    """The EEVC file after its header, up to and including its trailer."""

    def __init__(self) -> None:
        self.records = 1
        self.gross = self.discount = self.net = 0

    def read(self, lines: Iterator[tuple[int, str]]) -> Iterator[SettlementLine]:
        read_summary = SUMMARY.reader("rv", "gross", "discount", "net")
        read_sale = SALE.reader("rv", "sale_date", "amount", "tid", "nsu", "authorization_code", "order_number")
        read_trailer = SALES_TRAILER.reader("record_count", "gross_total", "discount_total", "net_total")
        rv: list | None = None  # [number, gross, discount, sales so far, fees so far, its line]
        number = 1
        for number, line in lines:
            code = line[:3]
            try:
                if code == "034":
                    rv_number, day, amount, tid, nsu, authorization, order = read_sale(line)
                    if rv is None or rv_number != rv[0]:
                        raise ValueError("a sale outside the sales summary (RV) before it")
                    rv[3] += amount
                    # Cumulative rounding: each sale's share of the RV's discount, half up, so
                    # that the shares add up to the discount exactly.
                    allocated = (2 * rv[2] * rv[3] + rv[1]) // (2 * rv[1]) if rv[1] else 0
                    fee, rv[4] = allocated - rv[4], allocated
                    yield SettlementLine(LineKind.SALE, day, amount, fee, amount - fee, tid, nsu, authorization, order)
                elif code == "006":
                    _close_summary(rv)
                    rv_number, gross, discount, net = read_summary(line)
                    if net != gross - discount:
                        raise ValueError(f"RV net {net} is not gross {gross} less discount {discount}")
                    rv = [rv_number, gross, discount, 0, 0, number]
                    self.gross += gross
                    self.discount += discount
                    self.net += net
                elif code == "028":
                    _close_summary(rv)
                    self.records = number
                    found = read_trailer(line)
                    held = (number, self.gross, self.discount, self.net)
                    if found != held:
                        raise ReportFormatError(
                            f"line {number}: the EEVC trailer says records, gross, discount, net {found}; "
                            f"the file holds {held}"
                        )
                    return
                else:
                    raise ValueError(f"unknown EEVC record type {code!r}")
            except ReportFormatError:
                raise
            except ValueError as exc:
                raise ReportFormatError(f"line {number}: {exc}") from exc
        raise ReportFormatError(f"line {number}: the EEVC file ends without its trailer (record 028)")


def _close_summary(rv: list | None) -> None:
    if rv is not None and rv[3] != rv[1]:
        raise ReportFormatError(f"line {rv[5]}: the RV says gross {rv[1]}; its sales add up to {rv[3]}")


class _Financial:
    """The EEFI file after its header, up to and including its trailer."""

    def __init__(self, *, first_line: int) -> None:
        self.first_line = first_line
        self.records = 1
        self.credits = self.adjustments = 0

    def read(self, lines: Iterator[tuple[int, str]]) -> Iterator[SettlementLine]:
        read_credit = CREDIT.reader("amount", "rv_gross", "discount")
        read_adjustment = ADJUSTMENT.reader("amount", "reason_code", "original_sale_date", "nsu", "authorization_code")
        read_trailer = FINANCIAL_TRAILER.reader("record_count", "credit_total", "adjustment_total")
        number = self.first_line
        for number, line in lines:
            code = line[:3]
            try:
                if code == "035":
                    amount, reason, day, nsu, authorization = read_adjustment(line)
                    self.adjustments += amount
                    kind = REASONS.get(reason, LineKind.ADJUSTMENT)
                    yield SettlementLine(kind, day, -amount, 0, -amount, "", nsu, authorization)
                elif code == "034":
                    amount, rv_gross, discount = read_credit(line)
                    if amount != rv_gross - discount:
                        raise ValueError(f"credit {amount} is not the RV's gross {rv_gross} less discount {discount}")
                    self.credits += amount
                elif code == "052":
                    self.records = number - self.first_line + 1
                    found = read_trailer(line)
                    held = (self.records, self.credits, self.adjustments)
                    if found != held:
                        raise ReportFormatError(
                            f"line {number}: the EEFI trailer says records, credits, adjustments {found}; "
                            f"the file holds {held}"
                        )
                    return
                else:
                    raise ValueError(f"unknown EEFI record type {code!r}")
            except ReportFormatError:
                raise
            except ValueError as exc:
                raise ReportFormatError(f"line {number}: {exc}") from exc
        raise ReportFormatError(f"line {number}: the EEFI file ends without its trailer (record 052)")


def write(out: TextIO, header: ReportHeader, summaries: Iterable[Sequence[SettlementLine]]) -> Totals:
    """Writes a day's EEVC file (one RV per group of sales, its discount the sum of their fees)
    and then its EEFI file (a credit order per RV, a 035 adjustment per refund, chargeback or
    other debit)."""
    write_file_header = {code: record.writer() for code, record in _HEADERS.items()}
    write_summary, write_sale, write_sales_trailer = SUMMARY.writer(), SALE.writer(), SALES_TRAILER.writer()
    write_credit, write_adjustment, write_financial_trailer = (
        CREDIT.writer(),
        ADJUSTMENT.writer(),
        FINANCIAL_TRAILER.writer(),
    )
    pv, day, credit_day = header.establishment, header.business_date, header.payment_date
    file_header = {"file_date": day, "pv": pv, "sequence": header.sequence}
    out.write(write_file_header["002"](file_header) + EOL)
    paid: list[tuple[int, int, int]] = []  # (rv, gross, discount): one credit order each
    debits: list[SettlementLine] = []
    sales_records = 1
    for rv, lines in enumerate(summaries, start=1):
        sales = [line for line in lines if line.kind == LineKind.SALE]
        debits.extend(line for line in lines if line.kind != LineKind.SALE)
        if not sales:
            continue
        gross, discount = sum(line.gross for line in sales), sum(line.fee for line in sales)
        summary = {"pv": pv, "rv": rv, "rv_date": day, "gross": gross, "discount": discount, "net": gross - discount}
        out.write(write_summary({**summary, "credit_date": credit_day, "brand": BRAND}) + EOL)
        for line in sales:
            sale = {
                "pv": pv,
                "rv": rv,
                "sale_date": line.sale_date,
                "amount": line.gross,
                "nsu": line.nsu,
                "authorization_code": line.authorization_code,
                "tid": line.tid,
                "order_number": line.order_reference[:ORDER_NUMBER_WIDTH],
            }
            out.write(write_sale(sale) + EOL)
        paid.append((rv, gross, discount))
        sales_records += 1 + len(sales)
    sales_records += 1
    gross_total = sum(gross for _, gross, _ in paid)
    discount_total = sum(discount for _, _, discount in paid)
    sales_totals = {
        "record_count": sales_records,
        "gross_total": gross_total,
        "discount_total": discount_total,
        "net_total": gross_total - discount_total,
    }
    out.write(write_sales_trailer(sales_totals) + EOL)

    out.write(write_file_header["030"](file_header) + EOL)
    for order, (rv, gross, discount) in enumerate(paid, start=1):
        credit = {
            "pv": pv,
            "credit_order": order,
            "posting_date": credit_day,
            "amount": gross - discount,
            "rv": rv,
            "rv_date": day,
            "rv_gross": gross,
            "discount": discount,
        }
        out.write(write_credit(credit) + EOL)
    for line in debits:
        code, text = REASON_OF_KIND[LineKind(line.kind)]
        adjustment = {
            "pv": pv,
            "rv": 0,
            "adjustment_date": day,
            "amount": -line.gross,
            "reason_code": code,
            "reason_text": text,
            "original_sale_date": line.sale_date,
            "original_rv": 0,
            "nsu": line.nsu,
            "authorization_code": line.authorization_code,
        }
        out.write(write_adjustment(adjustment) + EOL)
    financial_records = 2 + len(paid) + len(debits)
    adjustment_total = -sum(line.gross for line in debits)
    financial_totals = {
        "record_count": financial_records,
        "credit_total": gross_total - discount_total,
        "adjustment_total": adjustment_total,
    }
    out.write(write_financial_trailer(financial_totals) + EOL)
    return Totals(
        records=sales_records + financial_records,
        gross=gross_total - adjustment_total,
        fee=discount_total,
        net=gross_total - discount_total - adjustment_total,
    )
