"""Getnet, Extrato Eletrônico V10 (400-byte records), as /work/shared/SETTLEMENT_FORMATS.md
describes it:

    0  header (file date, `SANT. V.10 400 BYTES`, establishment)
    1  sales summary (RV): gross, net and fee of the sales after it
    2  sale, with its own MDR fee; e-commerce sales (content type 02) carry TID and order id
    3  adjustment: cancellation (03), chargeback (04), chargeback reversal (16), ...
    9  trailer: record count (every record, header and trailer included), gross and net totals

Amounts are 12 digits with a separate sign field; dates DDMMAAAA. The positions the manual's
summary leaves open are chosen here and easy to correct: the header's fields, the RV number and
establishment at the start of records 1 and 3 (as in record 2), and the trailer.

The order id of an e-commerce sale is the one we sent (`order.order_id`, our payment id), 36
characters wide, so it identifies the payment by itself.
"""

from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from .errors import ReportFormatError
from .layout import Field, Kind, Record, decoded_lines
from .lines import KeySource, LineKind, MatchKey, ReportHeader, SettlementLine, Totals

NAME = "getnet"
LENGTH = 400
EOL = "\r\n"
MATCH_KEY = MatchKey("order_reference", KeySource.ORDER_REFERENCE)
HEADER_TEXT = "SANT. V.10 400 BYTES"
ECOMMERCE = "02"

HEADER = Record(
    "0",
    (
        Field("type", 1, 1, value="0"),
        Field("file_date", 2, 9, Kind.DMY),
        Field("file_time", 10, 15, Kind.DIGITS),
        Field("header_text", 16, 35, value=HEADER_TEXT),
        Field("establishment", 36, 50, Kind.DIGITS),
        Field("sequence", 51, 59, Kind.DIGITS),
    ),
    LENGTH,
)
SUMMARY = Record(
    "1",
    (
        Field("type", 1, 1, value="1"),
        Field("establishment", 2, 16, Kind.DIGITS),
        Field("rv", 17, 25, Kind.DIGITS),
        Field("rv_date", 26, 33, Kind.DMY),
        Field("gross", 85, 96, Kind.AMOUNT),
        Field("net", 97, 108, Kind.AMOUNT),
        Field("fee", 109, 120, Kind.AMOUNT),
        Field("payment_type", 169, 170),
    ),
    LENGTH,
)
SALE = Record(
    "2",
    (
        Field("type", 1, 1, value="2"),
        Field("establishment", 2, 16, Kind.DIGITS),
        Field("rv", 17, 25, Kind.DIGITS),
        Field("nsu", 26, 37, Kind.DIGITS),
        Field("sale_date", 38, 45, Kind.DMY),
        Field("sale_time", 46, 51, Kind.DIGITS),
        Field("amount", 71, 82, Kind.AMOUNT),
        Field("payment_date", 123, 130, Kind.DMY),
        Field("authorization_code", 131, 140),
        Field("sign", 172, 172, Kind.SIGN),
        Field("fee", 176, 187, Kind.AMOUNT),
        Field("content_type", 188, 189, Kind.DIGITS),
        Field("tid", 190, 231),
        Field("order_id", 232, 267),
    ),
    LENGTH,
)
ADJUSTMENT = Record(
    "3",
    (
        Field("type", 1, 1, value="3"),
        Field("establishment", 2, 16, Kind.DIGITS),
        Field("sign", 63, 63, Kind.SIGN),
        Field("amount", 64, 75, Kind.AMOUNT),
        Field("reason", 76, 77, Kind.DIGITS),
        Field("original_nsu", 114, 125, Kind.DIGITS),
        Field("original_date", 126, 133, Kind.DMY),
        Field("tid", 169, 210),
        Field("order_id", 211, 246),
    ),
    LENGTH,
)
TRAILER = Record(
    "9",
    (
        Field("type", 1, 1, value="9"),
        Field("record_count", 2, 10, Kind.AMOUNT),
        Field("gross_sign", 11, 11, Kind.SIGN),
        Field("gross_total", 12, 26, Kind.AMOUNT),
        Field("net_sign", 27, 27, Kind.SIGN),
        Field("net_total", 28, 42, Kind.AMOUNT),
    ),
    LENGTH,
)

REASONS = {"03": LineKind.REFUND, "04": LineKind.CHARGEBACK}
REASON_OF_KIND = {LineKind.REFUND: "03", LineKind.CHARGEBACK: "04", LineKind.ADJUSTMENT: "99"}
PAID = "PG"


class Reader:
    """Reads a file lazily: `header` at once, the lines by iterating, the totals checked against
    the trailer when the iteration reaches it."""

    def __init__(self, chunks: Iterable[str]):
        self._lines = decoded_lines(chunks, LENGTH)
        first = next(self._lines, None)
        if first is None:
            raise ReportFormatError("the file is empty")
        number, line = first
        try:
            file_date, establishment, sequence = HEADER.reader("file_date", "establishment", "sequence")(line)
        except ValueError as exc:
            raise ReportFormatError(f"line {number}: not a Getnet V10 header: {exc}") from exc
        self.header = ReportHeader(
            business_date=file_date, payment_date=file_date, establishment=establishment, sequence=int(sequence)
        )
        self.totals: Totals | None = None

    def __iter__(self) -> Iterator[SettlementLine]:
        read_summary = SUMMARY.reader("rv", "gross", "net", "fee")
        read_sale = SALE.reader(
            "rv", "sign", "amount", "fee", "sale_date", "content_type", "tid", "nsu", "authorization_code", "order_id"
        )
        read_adjustment = ADJUSTMENT.reader(
            "sign", "amount", "reason", "original_date", "tid", "original_nsu", "order_id"
        )
        read_trailer = TRAILER.reader("record_count", "gross_sign", "gross_total", "net_sign", "net_total")
        rv: list | None = None  # [number, gross, net, fee, sales' gross, net, fee, its line]
        gross_total = fee_total = net_total = 0
        number = 1
        for number, line in self._lines:
            code = line[0]
            try:
                if code == "2":
                    rv_number, sign, amount, fee, day, content, tid, nsu, authorization, order = read_sale(line)
                    if rv is None or rv_number != rv[0]:
                        raise ValueError("a sale outside the sales summary (RV) before it")
                    if content != ECOMMERCE:  # only e-commerce sales carry TID and order id
                        tid = order = ""
                    gross = sign * amount
                    rv[4] += gross
                    rv[5] += gross - fee
                    rv[6] += fee
                    gross_total += gross
                    fee_total += fee
                    net_total += gross - fee
                    yield SettlementLine(LineKind.SALE, day, gross, fee, gross - fee, tid, nsu, authorization, order)
                elif code == "1":
                    _close_summary(rv)
                    rv_number, gross, net, fee = read_summary(line)
                    rv = [rv_number, gross, net, fee, 0, 0, 0, number]
                elif code == "3":
                    sign, amount, reason, day, tid, nsu, order = read_adjustment(line)
                    gross = sign * amount
                    gross_total += gross
                    net_total += gross
                    kind = REASONS.get(reason, LineKind.ADJUSTMENT)
                    yield SettlementLine(kind, day, gross, 0, gross, tid, nsu, "", order)
                elif code == "9":
                    _close_summary(rv)
                    count, g_sign, gross, n_sign, net = read_trailer(line)
                    if (count, g_sign * gross, n_sign * net) != (number, gross_total, net_total):
                        raise ReportFormatError(
                            f"line {number}: the trailer says {count} records, gross {g_sign * gross} and net "
                            f"{n_sign * net}; the file holds {number} records, gross {gross_total} and net {net_total}"
                        )
                    self.totals = Totals(records=number, gross=gross_total, fee=fee_total, net=net_total)
                    break
                else:
                    raise ValueError(f"unknown record type {code!r}")
            except ReportFormatError:
                raise
            except ValueError as exc:
                raise ReportFormatError(f"line {number}: {exc}") from exc
        else:
            raise ReportFormatError(f"line {number}: the file ends without its trailer (record 9)")
        extra = next(self._lines, None)
        if extra is not None:
            raise ReportFormatError(f"line {extra[0]}: records after the trailer")


def _close_summary(rv: list | None) -> None:
    if rv is not None and rv[1:4] != rv[4:7]:
        raise ReportFormatError(
            f"line {rv[7]}: the RV says gross, net, fee {tuple(rv[1:4])}; its sales add up to {tuple(rv[4:7])}"
        )


def write(out: TextIO, header: ReportHeader, summaries: Iterable[Sequence[SettlementLine]]) -> Totals:
    """Writes a file: one RV (record 1) per group of lines for its sales, each group's refunds,
    chargebacks and other adjustments as records 3 after them, then the trailer."""
    write_header, write_summary, write_sale, write_adjustment, write_trailer = (
        HEADER.writer(),
        SUMMARY.writer(),
        SALE.writer(),
        ADJUSTMENT.writer(),
        TRAILER.writer(),
    )
    establishment = header.establishment
    file_header = {"file_date": header.business_date, "file_time": "000000", "establishment": establishment}
    out.write(write_header({**file_header, "sequence": header.sequence}) + EOL)
    records = 1
    gross_total = fee_total = net_total = 0
    for rv, lines in enumerate(summaries, start=1):
        sales = [line for line in lines if line.kind == LineKind.SALE]
        if sales:
            gross, fee = sum(line.gross for line in sales), sum(line.fee for line in sales)
            summary = {
                "establishment": establishment,
                "rv": rv,
                "rv_date": header.business_date,
                "gross": gross,
                "net": gross - fee,
                "fee": fee,
                "payment_type": PAID,
            }
            out.write(write_summary(summary) + EOL)
            records += 1
        for line in sales:
            sale = {
                "establishment": establishment,
                "rv": rv,
                "nsu": line.nsu,
                "sale_date": line.sale_date,
                "sale_time": "000000",
                "amount": abs(line.gross),
                "payment_date": header.payment_date,
                "authorization_code": line.authorization_code,
                "sign": line.gross,
                "fee": line.fee,
                "content_type": ECOMMERCE,
                "tid": line.tid,
                "order_id": line.order_reference,
            }
            out.write(write_sale(sale) + EOL)
        for line in lines:
            if line.kind == LineKind.SALE:
                continue
            adjustment = {
                "establishment": establishment,
                "sign": line.gross,
                "amount": abs(line.gross),
                "reason": REASON_OF_KIND[LineKind(line.kind)],
                "original_nsu": line.nsu,
                "original_date": line.sale_date,
                "tid": line.tid,
                "order_id": line.order_reference,
            }
            out.write(write_adjustment(adjustment) + EOL)
        records += len(lines)
        for line in lines:
            gross_total += line.gross
            fee_total += line.fee
            net_total += line.net
    records += 1
    totals = {
        "record_count": records,
        "gross_sign": gross_total,
        "gross_total": abs(gross_total),
        "net_sign": net_total,
        "net_total": abs(net_total),
    }
    out.write(write_trailer(totals) + EOL)
    return Totals(records=records, gross=gross_total, fee=fee_total, net=net_total)
