from datetime import datetime


def rfc3339(value: datetime | None) -> str | None:
    """The API's timestamp format: RFC 3339, UTC, milliseconds, `Z` suffix."""
    if value is None:
        return None
    return value.isoformat(timespec="milliseconds").replace("+00:00", "Z")
