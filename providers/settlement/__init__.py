"""Providers' settlement reports ("extratos eletrônicos"): one declarative layout per provider
with a streaming reader and a writer (cielo.py, rede.py, getnet.py), and the adapters' fetch of a
day's report (fetch.py). Pure Python: the sandbox writes reports with these same modules.

    with open(path, encoding="latin-1", newline="") as file:
        report = LAYOUTS["cielo"].reader(file)    # reads and checks the header at once
        for line in report:                       # SettlementLine, one at a time
            ...                                   # the trailer is checked when it is reached
"""

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol, TextIO

from . import cielo, getnet, rede
from .errors import ReportFormatError
from .lines import KeySource, LineKind, MatchKey, ReportHeader, SettlementLine, Totals

__all__ = [
    "LAYOUTS",
    "KeySource",
    "Layout",
    "LineKind",
    "MatchKey",
    "ReportFormatError",
    "ReportHeader",
    "SettlementLine",
    "Totals",
]


class Reader(Protocol):
    header: ReportHeader
    totals: Totals | None  # set once the iteration has checked the trailer

    def __iter__(self) -> Iterator[SettlementLine]: ...


@dataclass(frozen=True)
class Layout:
    name: str
    match_key: MatchKey
    reader: Callable[[Iterable[str]], Reader]
    # Writes the header, then each group of lines as one summary (Cielo's UR, Rede's and Getnet's
    # RV) with its lines, then the trailer; returns the totals the trailer states.
    write: Callable[[TextIO, ReportHeader, Iterable[Sequence[SettlementLine]]], Totals]


LAYOUTS: dict[str, Layout] = {
    module.NAME: Layout(module.NAME, module.MATCH_KEY, module.Reader, module.write) for module in (cielo, rede, getnet)
}
