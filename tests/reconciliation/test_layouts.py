"""Each provider's layout: what the writer writes, the reader reads back; a file that contradicts
itself (its trailer, a summary) or breaks the layout is refused, naming the line."""

import io
from datetime import date

import pytest

from providers.settlement import LAYOUTS, LineKind, ReportFormatError, ReportHeader, SettlementLine

DAY = date(2025, 1, 15)
HEADERS = {
    "cielo": ReportHeader(DAY, date(2025, 1, 16), "1234567890", 7),
    "rede": ReportHeader(DAY, DAY, "123456789", 7),
    "getnet": ReportHeader(DAY, DAY, "123456789012345", 7),
}


def sale(number: int, amount: int, fee: int) -> SettlementLine:
    return SettlementLine(
        LineKind.SALE,
        DAY,
        amount,
        fee,
        amount - fee,
        tid=f"{number:020d}",
        nsu=f"{number:06d}",
        authorization_code=f"A{number:05d}",
        order_reference=f"pay_{number:026d}",
        provider_payment_id=f"00000000-0000-4000-8000-{number:012d}",
    )


def debit(kind: str, of: SettlementLine, amount: int) -> SettlementLine:
    return of._replace(kind=kind, sale_date=date(2025, 1, 14), gross=-amount, fee=0, net=-amount)


GROUPS = [
    [sale(1, 10_000, 199), sale(2, 25_050, 498), debit(LineKind.REFUND, sale(3, 1, 0), 3_000)],
    [sale(4, 99_999_999, 1_990_000), debit(LineKind.CHARGEBACK, sale(5, 1, 0), 7_500)],
]


def write(provider: str, groups=GROUPS) -> str:
    out = io.StringIO(newline="")
    LAYOUTS[provider].write(out, HEADERS[provider], groups)
    return out.getvalue()


def read(provider: str, text: str) -> tuple:
    reader = LAYOUTS[provider].reader(io.StringIO(text, newline=""))
    return reader.header, list(reader), reader.totals


def as_read(provider: str, line: SettlementLine) -> SettlementLine:
    """What a layout keeps of a line: the fields it has, as wide as it has them."""
    if provider == "cielo":
        return line._replace(order_reference=line.order_reference[:20])
    if provider == "rede":
        kept = line._replace(order_reference=line.order_reference[:20], provider_payment_id="", nsu=line.nsu.zfill(12))
        # A 035 adjustment names its sale by NSU and authorization code only.
        return kept if line.kind == LineKind.SALE else kept._replace(tid="", order_reference="")
    kept = line._replace(provider_payment_id="", nsu=line.nsu.zfill(12))
    return kept if line.kind == LineKind.SALE else kept._replace(authorization_code="")


@pytest.mark.parametrize("provider", sorted(LAYOUTS))
def test_what_the_writer_writes_the_reader_reads_back(provider):
    text = write(provider)

    header, lines, totals = read(provider, text)

    assert header.business_date == DAY
    assert header.establishment == HEADERS[provider].establishment
    written = [line for group in GROUPS for line in group]
    sales_first = provider == "rede"  # the EEVC file (sales) comes before the EEFI file (debits)
    if sales_first:
        written = [line for line in written if line.kind == "sale"] + [line for line in written if line.kind != "sale"]
    assert lines == [as_read(provider, line) for line in written]
    assert (totals.gross, totals.fee, totals.net) == (
        sum(line.gross for line in written),
        sum(line.fee for line in written),
        sum(line.net for line in written),
    )
    assert totals.records == len(text.splitlines())


@pytest.mark.parametrize("provider", sorted(LAYOUTS))
def test_an_empty_day_is_a_header_and_a_trailer(provider):
    header, lines, totals = read(provider, write(provider, groups=[]))

    assert (header.business_date, lines) == (DAY, [])
    assert (totals.gross, totals.fee, totals.net) == (0, 0, 0)


# The trailer's record count, in each layout.
TRAILER_COUNT = {"cielo": ("9", slice(1, 12)), "rede": ("028", slice(3, 14)), "getnet": ("9", slice(1, 10))}


@pytest.mark.parametrize("provider", sorted(LAYOUTS))
def test_a_trailer_whose_count_disagrees_with_the_lines_is_refused(provider):
    code, positions = TRAILER_COUNT[provider]
    lines = write(provider).splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(code) and i > 0)
    count = lines[index][positions]
    lines[index] = (
        lines[index][: positions.start] + str(int(count) + 1).zfill(len(count)) + lines[index][positions.stop :]
    )

    with pytest.raises(ReportFormatError, match=rf"line {index + 1}: the (EEVC )?trailer says"):
        read(provider, "".join(lines))


# The first sale's record type and gross amount, in each layout.
SALE_AMOUNT = {"cielo": ("E", slice(261, 274)), "rede": ("034", slice(29, 44)), "getnet": ("2", slice(70, 82))}


@pytest.mark.parametrize("provider", sorted(LAYOUTS))
def test_a_sale_whose_amount_was_changed_is_refused_by_the_totals(provider):
    code, positions = SALE_AMOUNT[provider]
    lines = write(provider).splitlines(keepends=True)
    index = next(i for i, line in enumerate(lines) if line.startswith(code))
    amount = lines[index][positions]
    lines[index] = (
        lines[index][: positions.start] + str(int(amount) + 1).zfill(len(amount)) + lines[index][positions.stop :]
    )

    with pytest.raises(ReportFormatError, match=r"^line \d+: "):
        read(provider, "".join(lines))


@pytest.mark.parametrize("provider", sorted(LAYOUTS))
def test_a_file_cut_short_is_refused(provider):
    lines = write(provider).splitlines(keepends=True)

    with pytest.raises(ReportFormatError, match="without its trailer"):
        read(provider, "".join(lines[:-1]))
    with pytest.raises(ReportFormatError, match="empty"):
        read(provider, "")


def test_letters_in_an_amount_are_refused_naming_the_line_and_the_field():
    lines = write("cielo").splitlines(keepends=True)
    lines[2] = lines[2][:261] + "00000000O1000" + lines[2][274:]  # a letter O in the gross

    with pytest.raises(ReportFormatError, match=r"line 3: gross must be 13 digits, not '00000000O1000'"):
        read("cielo", "".join(lines))


def test_a_record_type_outside_the_layout_is_refused():
    lines = write("getnet").splitlines(keepends=True)
    lines.insert(2, "5" + " " * 399 + "\r\n")

    with pytest.raises(ReportFormatError, match="line 3: unknown record type '5'"):
        read("getnet", "".join(lines))


def test_a_cielo_unit_that_does_not_add_up_to_its_transactions_is_refused():
    lines = write("cielo").splitlines(keepends=True)
    unit = lines[1]
    lines[1] = unit[:72] + f"{int(unit[72:85]) + 1:013d}" + unit[85:]

    with pytest.raises(ReportFormatError, match="line 2: the receivable unit says"):
        read("cielo", "".join(lines))


def test_rede_shares_an_rv_discount_among_its_sales_to_the_cent():
    group = [sale(1, 10_000, 0), sale(2, 3_333, 0), sale(3, 6_667, 0)]
    summary = [line._replace(fee=fee, net=line.gross - fee) for line, fee in zip(group, (200, 67, 133), strict=True)]

    _, lines, totals = read("rede", write("rede", groups=[summary]))

    assert sum(line.fee for line in lines) == totals.fee == 400
    assert [line.fee for line in lines] == [200, 67, 133]  # each sale's share, by amount
    assert all(line.net == line.gross - line.fee for line in lines)


def test_trailing_spaces_trimmed_by_a_tool_do_not_change_a_file():
    text = write("getnet")
    trimmed = "".join(line.rstrip() + "\r\n" for line in text.splitlines())

    assert read("getnet", trimmed) == read("getnet", text)
