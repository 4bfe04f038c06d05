"""Cielo, Extrato Eletrônico v15, file type 04 (payments), as /work/shared/SETTLEMENT_FORMATS.md
describes it. One file per establishment and day:

    0  header
    D  receivable unit (UR): one credit to the merchant, the sum of the E records after it
    E  transaction (sale, cancellation, chargeback, adjustment) of that UR
    ... more D and E records
    9  trailer: record count (every record, header and trailer included), net and gross totals

Amounts are a sign then 13 digits; the fee of a sale is written negative (a deduction) and net =
gross + fee. Header dates are AAAAMMDD, detail dates DDMMAAAA.

Not in Cielo's manual: the E record's `payment_id` (303-338) carries Cielo's PaymentId, the id
its API 3.0 answered the authorization with. The real file identifies an e-commerce sale by its
TID, which the payments core does not keep (the adapters return it in ProviderResult.details), so
the sandbox writes the PaymentId there; with real files, match on the TID once it is stored (see
docs/reconciliation.md).
"""

from collections.abc import Iterable, Iterator, Sequence
from typing import TextIO

from .errors import ReportFormatError
from .layout import Field, Kind, Record, decoded_lines
from .lines import KeySource, LineKind, MatchKey, ReportHeader, SettlementLine, Totals

NAME = "cielo"
LENGTH = 600
EOL = "\r\n"
MATCH_KEY = MatchKey("provider_payment_id", KeySource.PROVIDER_REFERENCE)

HEADER = Record(
    "0",
    (
        Field("type", 1, 1, value="0"),
        Field("establishment", 2, 11, Kind.DIGITS),
        Field("processing_date", 12, 19, Kind.YMD),
        Field("period_start", 20, 27, Kind.YMD),
        Field("period_end", 28, 35, Kind.YMD),
        Field("sequence", 36, 42, Kind.DIGITS),
        Field("acquirer", 43, 47, value="CIELO"),
        Field("file_type", 48, 49, value="04"),
        Field("layout_version", 71, 73, value="015"),
    ),
    LENGTH,
)
UNIT = Record(
    "D",
    (
        Field("type", 1, 1, value="D"),
        Field("establishment", 2, 11, Kind.DIGITS),
        Field("brand", 54, 56, Kind.DIGITS),
        Field("settlement_type", 57, 59, Kind.DIGITS),
        Field("payment_status", 70, 71, Kind.DIGITS),
        Field("gross_sign", 72, 72, Kind.SIGN),
        Field("gross", 73, 85, Kind.AMOUNT),
        Field("fee_sign", 86, 86, Kind.SIGN),
        Field("fee", 87, 99, Kind.AMOUNT),
        Field("net_sign", 100, 100, Kind.SIGN),
        Field("net", 101, 113, Kind.AMOUNT),
        Field("unit_key", 152, 251),
        Field("payment_date", 268, 275, Kind.DMY),
    ),
    LENGTH,
)
TRANSACTION = Record(
    "E",
    (
        Field("type", 1, 1, value="E"),
        Field("establishment", 2, 11, Kind.DIGITS),
        Field("brand", 12, 14, Kind.DIGITS),
        Field("authorization_code", 22, 27),
        Field("entry_type", 28, 29, Kind.DIGITS),
        Field("unit_key", 30, 129),
        Field("nsu", 176, 181, Kind.DIGITS),
        Field("tid", 192, 211),
        Field("order_reference", 212, 231),
        Field("gross_sign", 261, 261, Kind.SIGN),
        Field("gross", 262, 274, Kind.AMOUNT),
        Field("net_sign", 275, 275, Kind.SIGN),
        Field("net", 276, 288, Kind.AMOUNT),
        Field("fee_sign", 289, 289, Kind.SIGN),
        Field("fee", 290, 302, Kind.AMOUNT),
        Field("payment_id", 303, 338),  # sandbox extension, see the module's docstring
        Field("authorization_date", 566, 573, Kind.DMY),
        Field("capture_date", 574, 581, Kind.DMY),
    ),
    LENGTH,
)
TRAILER = Record(
    "9",
    (
        Field("type", 1, 1, value="9"),
        Field("record_count", 2, 12, Kind.AMOUNT),
        Field("net_sign", 13, 13, Kind.SIGN),
        Field("net_total", 14, 30, Kind.AMOUNT),
        Field("gross_sign", 42, 42, Kind.SIGN),
        Field("gross_total", 43, 59, Kind.AMOUNT),
    ),
    LENGTH,
)

# The field is narrower than the order ids merchants may send (Cielo takes up to 50): a file holds
# only their first characters.
ORDER_REFERENCE_WIDTH = TRANSACTION.field("order_reference").width
ENTRY_TYPES = {"01": LineKind.SALE, "06": LineKind.REFUND, "08": LineKind.CHARGEBACK}
ENTRY_TYPE_OF_KIND = {LineKind.SALE: "01", LineKind.REFUND: "06", LineKind.CHARGEBACK: "08", LineKind.ADJUSTMENT: "04"}
BRAND = "001"
SETTLEMENT_TYPE = "001"
PAID = "01"


class Reader:
    """Reads a file lazily: `header` at once, the transactions by iterating, the totals checked
    against the trailer when the iteration reaches it."""

    def __init__(self, chunks: Iterable[str]):
        self._lines = decoded_lines(chunks, LENGTH)
        first = next(self._lines, None)
        if first is None:
            raise ReportFormatError("the file is empty")
        number, line = first
        try:
            (establishment, processing, start, end, sequence) = HEADER.reader(
                "establishment", "processing_date", "period_start", "period_end", "sequence"
            )(line)
        except ValueError as exc:
            raise ReportFormatError(f"line {number}: not a Cielo v15 header: {exc}") from exc
        if start != end:
            raise ReportFormatError(f"line {number}: the file covers {start} to {end}; expected one day")
        self.header = ReportHeader(
            business_date=start, payment_date=processing, establishment=establishment, sequence=int(sequence)
        )
        self.totals: Totals | None = None

    def __iter__(self) -> Iterator[SettlementLine]:
        read_unit = UNIT.reader("unit_key", "gross_sign", "gross", "fee_sign", "fee", "net_sign", "net")
        read_transaction = TRANSACTION.reader(
            "entry_type",
            "unit_key",
            "gross_sign",
            "gross",
            "fee_sign",
            "fee",
            "net_sign",
            "net",
            "capture_date",
            "tid",
            "nsu",
            "authorization_code",
            "order_reference",
            "payment_id",
        )
        read_trailer = TRAILER.reader("record_count", "net_sign", "net_total", "gross_sign", "gross_total")
        unit: list | None = None  # [key, expected gross, fee, net, summed gross, fee, net, its line]
        gross_total = fee_total = net_total = 0
        number = 1
        for number, line in self._lines:
            code = line[0]
            try:
                if code == "E":
                    (entry, key, g_sign, gross, f_sign, fee, n_sign, net, day, *ids) = read_transaction(line)
                    if unit is None or key != unit[0]:
                        raise ValueError("a transaction outside the receivable unit (D record) before it")
                    gross, fee, net = g_sign * gross, -f_sign * fee, n_sign * net
                    if net != gross - fee:
                        raise ValueError(f"net {net} is not gross {gross} less fee {fee}")
                    unit[4] += gross
                    unit[5] += fee
                    unit[6] += net
                    gross_total += gross
                    fee_total += fee
                    net_total += net
                    yield SettlementLine(ENTRY_TYPES.get(entry, LineKind.ADJUSTMENT), day, gross, fee, net, *ids)
                elif code == "D":
                    _close_unit(unit)
                    key, g_sign, gross, f_sign, fee, n_sign, net = read_unit(line)
                    unit = [key, g_sign * gross, -f_sign * fee, n_sign * net, 0, 0, 0, number]
                elif code == "9":
                    _close_unit(unit)
                    count, n_sign, net, g_sign, gross = read_trailer(line)
                    if (count, n_sign * net, g_sign * gross) != (number, net_total, gross_total):
                        raise ReportFormatError(
                            f"line {number}: the trailer says {count} records, net {n_sign * net} and gross "
                            f"{g_sign * gross}; the file holds {number} records, net {net_total} and gross "
                            f"{gross_total}"
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


def _close_unit(unit: list | None) -> None:
    if unit is not None and unit[1:4] != unit[4:7]:
        raise ReportFormatError(
            f"line {unit[7]}: the receivable unit says gross, fee, net {tuple(unit[1:4])}; "
            f"its transactions add up to {tuple(unit[4:7])}"
        )


def write(out: TextIO, header: ReportHeader, units: Iterable[Sequence[SettlementLine]]) -> Totals:
    """Writes a file: one receivable unit (D record) per group of lines, then the trailer."""
    write_header, write_unit, write_transaction, write_trailer = (
        HEADER.writer(),
        UNIT.writer(),
        TRANSACTION.writer(),
        TRAILER.writer(),
    )
    establishment = header.establishment
    out.write(
        write_header(
            {
                "establishment": establishment,
                "processing_date": header.payment_date,
                "period_start": header.business_date,
                "period_end": header.business_date,
                "sequence": header.sequence,
            }
        )
        + EOL
    )
    records = 1
    gross_total = fee_total = net_total = 0
    for index, lines in enumerate(units, start=1):
        key = f"{header.business_date:%Y%m%d}{establishment}{index:08d}"
        gross, fee, net = sum(x.gross for x in lines), sum(x.fee for x in lines), sum(x.net for x in lines)
        out.write(
            write_unit(
                {
                    "establishment": establishment,
                    "brand": BRAND,
                    "settlement_type": SETTLEMENT_TYPE,
                    "payment_status": PAID,
                    "gross_sign": gross,
                    "gross": abs(gross),
                    "fee_sign": -fee,
                    "fee": abs(fee),
                    "net_sign": net,
                    "net": abs(net),
                    "unit_key": key,
                    "payment_date": header.payment_date,
                }
            )
            + EOL
        )
        for line in lines:
            out.write(
                write_transaction(
                    {
                        "establishment": establishment,
                        "brand": BRAND,
                        "authorization_code": line.authorization_code,
                        "entry_type": ENTRY_TYPE_OF_KIND[LineKind(line.kind)],
                        "unit_key": key,
                        "nsu": line.nsu,
                        "tid": line.tid,
                        "order_reference": line.order_reference[:ORDER_REFERENCE_WIDTH],
                        "gross_sign": line.gross,
                        "gross": abs(line.gross),
                        "net_sign": line.net,
                        "net": abs(line.net),
                        "fee_sign": -line.fee,
                        "fee": abs(line.fee),
                        "payment_id": line.provider_payment_id,
                        "authorization_date": line.sale_date,
                        "capture_date": line.sale_date,
                    }
                )
                + EOL
            )
        records += 1 + len(lines)
        gross_total += gross
        fee_total += fee
        net_total += net
    records += 1
    out.write(
        write_trailer(
            {
                "record_count": records,
                "net_sign": net_total,
                "net_total": abs(net_total),
                "gross_sign": gross_total,
                "gross_total": abs(gross_total),
            }
        )
        + EOL
    )
    return Totals(records=records, gross=gross_total, fee=fee_total, net=net_total)
