"""We never accept, store or log a card number (PAN). This module is the one place that decides
what looks like one, and the one function that masks it (and other secrets) wherever text leaves
the request: log lines, the idempotency store, Sentry events, admin pages.

The rule, applied to any text:

1. Every character is a *digit* (any Unicode character with a digit value: ASCII, fullwidth,
   Arabic-Indic, Devanagari, superscripts, ...; read with `unicodedata.digit`), a *word
   character* (a letter, or a number that is not a digit, such as `½`), or a *separator*
   (everything else: spaces of any kind, no-break spaces, zero-width spaces and joiners, BOM,
   dashes, dots, slashes, underscores, commas, other punctuation, symbols, control and format
   characters, combining marks) -- except the ASCII colon, which is a *boundary*.
2. A *group* is a maximal run of digits. Groups with only separators between them (any number of
   separators, of any kind) form one *run*; a word character or a colon ends a run. (The colon:
   times are written with it -- `T21:03:20.169359+00:00` would otherwise hold a 14-digit run
   passing Luhn one time in ten -- and card numbers never are.)
3. A *card number* is a stretch of one or more consecutive whole groups of a run holding 13 to
   19 digits in total whose digit string passes the Luhn check, where the stretch is not glued to
   a word character: its first digit does not directly follow a letter, nor its last digit
   directly precede one (so `tok_4242424242424242` and `4242 4242 4242 4242` are card numbers,
   and random hex such as a MAC, whose digits sit between letters, is not).
4. A UUID in its canonical form (8-4-4-4-12 hex digits) is an identifier: its dashes end runs as
   a letter would. No card number is written in that shape, and merchants' idempotency keys and
   references are UUIDs: about one random UUID in 10,000 has all-digit groups that join into 13
   to 19 digits passing Luhn (`83141530-1409-4305-9f5c-a5a3a7e9b24d`).

A run of 20 or more digits with no separator inside is not a card number (it is some other
number); a shorter card number inside it is only found at separator boundaries. The scan is one
pass over the text plus at most seven Luhn sums (lengths 13 to 19) per group: linear time, no
regular expression that could backtrack.

Masking (`mask`) rewrites each card number found as its first six and last four digits, in ASCII,
with the rest as `*` (`424242******4242`, what PCI DSS allows to be shown), and replaces API keys
(`sk_...`, `pk_...`, `rk_...`), webhook secrets (`whsec_...`), `Bearer`/`Basic` credentials and
the values of authorization, api key, signature, secret, password and cookie fields by
`[REDACTED]`.
"""

import functools
import re
import sys
import unicodedata
from itertools import accumulate

MIN_DIGITS = 13
MAX_DIGITS = 19
_DOUBLED = (0, 2, 4, 6, 8, 1, 3, 5, 7, 9)  # Luhn: a doubled digit, its digits summed

REDACTED = "[REDACTED]"
# Secrets with a recognizable shape: merchants' API keys, and the webhook signing secrets we issue.
_PREFIXED_SECRET = re.compile(r"(?<![A-Za-z0-9])(sk|pk|rk|whsec)_[A-Za-z0-9_\-+/=]{6,}")
_CREDENTIAL = re.compile(r"\b([Bb]earer|BEARER|Basic)(\s+)[A-Za-z0-9._~+/=\-]{8,}")
# `name=value`, `name: value`, `"name": "value"` for field names that carry secrets (the name
# may end a longer one: `X-Cielo-Signature`, `client_secret`).
_SECRET_FIELD = re.compile(
    r"""(?ix)
    (authorization|api[_-]?key|signature|secret|password|passwd|cookie|sessionid|csrftoken)
    (["']?\s*[:=]\s*["']?)
    (?!\[REDACTED\])((?:bearer\s+|basic\s+)?[^\s"'&;}]+)
    """
)
# Keys of a structure (headers, query parameters, ...) whose values are secrets whatever they hold.
_SECRET_NAME = re.compile(
    r"(?i)^(?:http_)?(?:(?:proxy[-_])?authorization|api[-_]?key|.*signature|.*secret|passw(?:or)?d|(?:set[-_])?cookie)$"
)


# After `_as_decimal`, digits are exactly `\d` (Unicode decimal digits), word characters are
# `[^\W\d_]` and separators `[^\w:]` or `_`. A run: groups of digits with separators between
# them. Digits and separators are disjoint classes, so matching never backtracks.
_RUN = re.compile(r"\d+(?:(?:[^\w:]|_)+\d+)*")
_GROUP = re.compile(r"\d+")
_UUID = re.compile(r"(?<![0-9A-Fa-f])[0-9A-Fa-f]{8}(?:-[0-9A-Fa-f]{4}){3}-[0-9A-Fa-f]{12}(?![0-9A-Fa-f])")


@functools.cache
def _other_digits() -> dict[int, str]:
    """Characters with a digit value that are not decimal digits (superscripts, circled and
    parenthesized digits, ...), mapped to their ASCII digit. Built once, on first need."""
    table = {}
    for code in range(0x80, sys.maxunicode + 1):
        char = chr(code)
        if char.isdigit() and not char.isdecimal():
            table[code] = str(unicodedata.digit(char))
    return table


def _as_decimal(text: str) -> str:
    """The text with every digit-valued character made a decimal digit, one for one (so indexes
    stay valid)."""
    return text if text.isascii() else text.translate(_other_digits())


def _digit_values(group: str) -> list[int]:
    if group.isascii():
        return [ord(char) - 48 for char in group]
    return [unicodedata.decimal(char) for char in group]


def _might_hold_one(text: str) -> bool:
    """A cheap pre-check for the common case: ASCII text with fewer than 13 digits."""
    if not text.isascii():
        return True
    return sum(text.count(digit) for digit in "0123456789") >= MIN_DIGITS


def _uuids_as_words(text: str) -> str:
    """The text with the dashes of canonical UUIDs made word characters, one for one (rule 4)."""
    if "-" not in text:
        return text
    return _UUID.sub(lambda match: match.group().replace("-", "x"), text)


def _is_word(char: str) -> bool:
    return char.isalnum() and not char.isdigit()


def _spans(text: str):
    """Yields (start, end) indexes in `text` of each card number (the rule above), run by run."""
    if not _might_hold_one(text):
        return
    text = _uuids_as_words(_as_decimal(text))
    for run in _RUN.finditer(text):
        if run.end() - run.start() < MIN_DIGITS:
            continue
        groups = _GROUP.findall(run.group())
        lengths = list(map(len, groups))
        if sum(lengths) < MIN_DIGITS or min(lengths) > MAX_DIGITS:
            continue
        ends = list(accumulate(lengths))
        digit_string = "".join(groups)
        if digit_string.isascii():
            digits = [byte - 48 for byte in digit_string.encode()]
        else:
            digits = [unicodedata.decimal(char) for char in digit_string]
        # The Luhn sum of the digits [s, e) is weighted[e % 2][e] - weighted[e % 2][s]: from the
        # right end, every second digit is doubled, that is those whose offset has e's parity.
        weighted = [
            list(
                accumulate(
                    (_DOUBLED[digit] if offset % 2 == parity else digit for offset, digit in enumerate(digits)),
                    initial=0,
                )
            )
            for parity in (0, 1)
        ]
        starts = [0, *ends[:-1]]
        glued_before = run.start() > 0 and _is_word(text[run.start() - 1])
        glued_after = run.end() < len(text) and _is_word(text[run.end()])
        positions = None  # each group's (start, end) in the text, computed on the first hit
        low = high = 0  # the groups that can end a card number starting at `first`
        for index, first in enumerate(starts):
            while low < len(ends) and ends[low] < first + MIN_DIGITS:
                low += 1
            while high < len(ends) and ends[high] <= first + MAX_DIGITS:
                high += 1
            if index == 0 and glued_before:
                continue
            for last in range(low, high - 1 if glued_after and high == len(ends) else high):
                end = ends[last]
                sums = weighted[end % 2]
                if (sums[end] - sums[first]) % 10 == 0:
                    if positions is None:
                        positions = [match.span() for match in _GROUP.finditer(text, run.start(), run.end())]
                    yield positions[index][0], positions[last][1]


def card_number_spans(text: str) -> list[tuple[int, int]]:
    """(start, end) indexes in `text` of every card number, overlapping ones merged."""
    return _merged(list(_spans(text)))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def looks_like_card_number(text: str) -> bool:
    return next(_spans(text), None) is not None


def _masked_digits(fragment: str) -> str:
    digits = "".join(str(value) for group in _GROUP.findall(_as_decimal(fragment)) for value in _digit_values(group))
    return digits[:6] + "*" * (len(digits) - 10) + digits[-4:]


def mask_card_numbers(text: str) -> str:
    spans = card_number_spans(text)
    if not spans:
        return text
    parts, position = [], 0
    for start, end in spans:
        parts += [text[position:start], _masked_digits(text[start:end])]
        position = end
    parts.append(text[position:])
    return "".join(parts)


def mask(text: str) -> str:
    """The text with card numbers cut to first six and last four digits, and secrets redacted.
    The one masking function: logs, idempotency store, Sentry and admin all use it."""
    if not isinstance(text, str) or not text:
        return text
    text = mask_card_numbers(text)
    text = _PREFIXED_SECRET.sub(lambda match: f"{match.group(1)}_{REDACTED}", text)
    text = _SECRET_FIELD.sub(lambda match: match.group(1) + match.group(2) + REDACTED, text)
    return _CREDENTIAL.sub(lambda match: match.group(1) + match.group(2) + REDACTED, text)


def mask_data(value):
    """`mask` applied to every string (dict keys included) of a JSON-like structure; a new
    structure is returned. Iterative, so no structure can exhaust the stack."""
    root: list = [value]
    stack: list = [(root, 0)]
    while stack:
        container, index = stack.pop()
        item = container[index]
        if isinstance(item, str):
            container[index] = mask(item)
        elif isinstance(item, dict):
            copy = {}
            for key, child in item.items():
                if isinstance(key, str) and _SECRET_NAME.match(key) and isinstance(child, str):
                    copy[mask(key)] = REDACTED
                else:
                    copy[mask(key) if isinstance(key, str) else key] = child
            container[index] = copy
            stack.extend((copy, key) for key, child in copy.items() if child is not REDACTED)
        elif isinstance(item, list | tuple):
            copy = list(item)
            container[index] = copy
            stack.extend((copy, position) for position in range(len(copy)))
    return root[0]


def find_card_numbers(value) -> list[str]:
    """Paths (`metadata.note`) of every value in a parsed JSON document that looks like a PAN.
    A path never repeats a card number found in a key. Iterative, so no document can exhaust
    the stack."""
    found: list[str] = []
    stack = [(value, "")]
    while stack:
        item, path = stack.pop()
        if isinstance(item, dict):
            for key, child in item.items():
                key = str(key)
                if looks_like_card_number(key):
                    found.append(path or "(key)")
                stack.append((child, f"{path}.{mask(key)}" if path else mask(key)))
        elif isinstance(item, list):
            stack.extend((child, f"{path}[{index}]") for index, child in enumerate(item))
        elif isinstance(item, str | int) and not isinstance(item, bool) and looks_like_card_number(str(item)):
            found.append(path or "(body)")
    return sorted(found)


def sentry_before_send(event, hint):
    """Sentry's before_send and before_send_transaction: every string of the event masked (the
    request's URL, query and headers, messages, breadcrumbs, exception values, local variables)."""
    return mask_data(event)
