"""Fixed-width records described by tables, as the acquirers' manuals describe them: each field
with its 1-based, inclusive positions and its kind. From one table come both the reader (slices
taken in C by one itemgetter, then converted) and the writer, so a position corrected in a table
is corrected for both.

Kinds:
- TEXT: left-justified, space-padded; read stripped;
- DIGITS: a numeric code kept as text (NSU, establishment), right-justified and zero-padded;
- AMOUNT: an unsigned integer in minor units, zero-padded; read as int;
- SIGN: `+` or `-`;
- DMY / YMD: dates as DDMMAAAA / AAAAMMDD.

A field with a `value` is a constant: the writer writes it and the reader refuses anything else.
"""

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import date
from enum import StrEnum
from functools import lru_cache
from typing import Any, NoReturn

from .errors import ReportFormatError


class Kind(StrEnum):
    TEXT = "text"
    DIGITS = "digits"
    AMOUNT = "amount"
    SIGN = "sign"
    DMY = "dmy"
    YMD = "ymd"


@dataclass(frozen=True)
class Field:
    name: str
    start: int  # 1-based, inclusive, as the manuals number positions
    end: int
    kind: Kind = Kind.TEXT
    value: str | None = None

    @property
    def width(self) -> int:
        return self.end - self.start + 1

    @property
    def slice(self) -> slice:
        return slice(self.start - 1, self.end)


_SIGNS = {"+": 1, "-": -1}


# Report dates repeat (one day's file holds a handful of dates): parse each once.
@lru_cache(maxsize=4096)
def _dmy(text: str) -> date:
    return date(int(text[4:8]), int(text[2:4]), int(text[0:2]))


@lru_cache(maxsize=4096)
def _ymd(text: str) -> date:
    return date(int(text[0:4]), int(text[4:6]), int(text[6:8]))


def _format(field: Field, value: Any) -> str:
    if field.value is not None:
        return field.value
    width = field.width
    if field.kind == Kind.TEXT:
        text = str(value)
        if len(text) > width:
            raise ValueError(f"{field.name}: {text!r} is longer than {width} characters")
        return text.ljust(width)
    if field.kind == Kind.SIGN:
        return "-" if value < 0 else "+"
    if field.kind == Kind.DMY:
        return f"{value:%d%m%Y}"
    if field.kind == Kind.YMD:
        return f"{value:%Y%m%d}"
    text = str(value)
    if not text.isdigit() or len(text) > width:
        raise ValueError(f"{field.name}: {text!r} does not fit {width} digits")
    return text.rjust(width, "0")


@dataclass(frozen=True)
class Record:
    """One record type: `code` is what its type field (the first of `fields`) holds."""

    code: str
    fields: tuple[Field, ...]
    length: int

    def __post_init__(self) -> None:
        previous_end = 0
        for field in sorted(self.fields, key=lambda f: f.start):
            if field.start <= previous_end or field.end > self.length or field.end < field.start:
                raise ValueError(f"record {self.code}: field {field.name} overlaps or leaves the record")
            previous_end = field.end

    def field(self, name: str) -> Field:
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"record {self.code} has no field {name!r}")

    def reader(self, *names: str) -> Callable[[str], tuple]:
        """A function from a line to the values of these fields, converted, in this order; it
        raises ValueError, naming the field, for a value that is not of its kind or a constant
        that is not the record's.

        The function is compiled from the table (like namedtuple's methods): a report holds
        millions of lines, and slices and conversions written out inline take a third of the time
        of a loop over field objects."""
        wanted = [self.field(name) for name in names]
        body, values, numeric = [], [], []
        for index, field in enumerate(wanted):
            text = f"line[{field.start - 1}:{field.end}]"
            if field.kind == Kind.TEXT:
                values.append(f"{text}.strip()")
                continue
            if field.kind == Kind.SIGN:
                values.append(f"(_SIGNS.get({text}) or _bad(line))")
                continue
            body.append(f"    v{index} = {text}")
            numeric.append(f"v{index}")
            convert = {Kind.DIGITS: "", Kind.AMOUNT: "int", Kind.DMY: "_dmy", Kind.YMD: "_ymd"}[field.kind]
            values.append(f"{convert}(v{index})")
        checks = [f"line[{field.start - 1}:{field.end}] != {field.value!r}" for field in self.fields if field.value]
        if numeric:
            checks.append(f"not ({' + '.join(numeric)}).isdigit()")
        if checks:
            body.append(f"    if {' or '.join(checks)}:")
            body.append("        _bad(line)")
        source = "\n".join(["def read(line):", *body, f"    return ({', '.join(values)},)"])
        namespace = {"_SIGNS": _SIGNS, "_dmy": _dmy, "_ymd": _ymd, "_bad": self._explain}
        exec(compile(source, f"<record {self.code} reader>", "exec"), namespace)  # noqa: S102 - source built from the table
        return namespace["read"]

    def _explain(self, line: str) -> NoReturn:
        """Raises the ValueError that names what is wrong with a line a reader refused."""
        for field in sorted(self.fields, key=lambda f: f.start):
            text = line[field.slice]
            if field.value is not None and text != field.value:
                raise ValueError(f"{field.name} must be {field.value!r}, not {text!r}")
            if field.kind == Kind.SIGN and text not in _SIGNS:
                raise ValueError(f"{field.name} must be + or -, not {text!r}")
            if field.kind not in (Kind.TEXT, Kind.SIGN) and not text.isdigit():
                raise ValueError(f"{field.name} must be {field.width} digits, not {text!r}")
        raise AssertionError("a reader refused a line that every field accepts")

    def writer(self) -> Callable[[Mapping[str, Any]], str]:
        """A function from field values to the record's line (without its line ending); positions
        no field covers are spaces."""
        ordered = sorted(self.fields, key=lambda f: f.start)
        gaps = []
        position = 1
        for field in ordered:
            gaps.append(" " * (field.start - position))
            position = field.end + 1
        tail = " " * (self.length - position + 1)

        def write(values: Mapping[str, Any]) -> str:
            parts = []
            for gap, field in zip(gaps, ordered, strict=True):
                parts.append(gap)
                parts.append(_format(field, values.get(field.name)))
            parts.append(tail)
            return "".join(parts)

        return write


def decoded_lines(chunks: Iterable[str], length: int) -> Iterator[tuple[int, str]]:
    """Numbered lines without their line endings, padded with spaces to the record length (tools
    that trim trailing spaces do not change what a line says). Blank lines are refused."""
    for number, line in enumerate(chunks, start=1):
        text = line.rstrip("\r\n")
        if len(text) != length:
            if not text or text.isspace():
                raise ReportFormatError(f"line {number}: blank line")
            if len(text) > length:
                raise ReportFormatError(f"line {number}: {len(text)} characters, more than the record length {length}")
            text = text.ljust(length)
        yield number, text
