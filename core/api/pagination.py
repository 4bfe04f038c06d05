"""Cursor pagination as the contract says: `?limit=` (1..100, default 20) and
`?starting_after=<id>`; answers `{"data": [...], "has_more": bool, "next_cursor": id|null}`.

Ids are time-ordered (core.ids), so the cursor is simply "ids after this one" in the list's order:
no lookup of the cursor object, no OFFSET."""

import re

from django.db.models import QuerySet

from core.errors import ValidationFailed

from .query import LIMIT_DEFAULT

_ID_BODY = re.compile(r"[A-Za-z0-9]{1,60}")


def parse_cursor(raw: str | None, *, prefix: str) -> str | None:
    """The `starting_after` id, or None; anything that is not an id of this list is a 400."""
    if raw is None:
        return None
    kind, _, body = raw.partition("_")
    if kind != prefix or not _ID_BODY.fullmatch(body):
        raise ValidationFailed(
            "starting_after must be an id from a previous page.",
            errors=[{"field": "starting_after", "code": "invalid", "detail": "Not an id of this list."}],
        )
    return raw


def paginate(
    queryset: QuerySet, *, params: dict, prefix: str, newest_first: bool = True
) -> tuple[list, bool, str | None]:
    limit = params.get("limit", LIMIT_DEFAULT)
    cursor = parse_cursor(params.get("starting_after"), prefix=prefix)
    if cursor is not None:
        queryset = queryset.filter(pk__lt=cursor) if newest_first else queryset.filter(pk__gt=cursor)
    queryset = queryset.order_by("-pk" if newest_first else "pk")
    rows = list(queryset[: limit + 1])
    has_more = len(rows) > limit
    rows = rows[:limit]
    return rows, has_more, (rows[-1].pk if has_more else None)


def page_body(rows_data: list, has_more: bool, next_cursor: str | None) -> dict:
    return {"object": "list", "data": rows_data, "has_more": has_more, "next_cursor": next_cursor}
