class ObjectIdConverter:
    """Ids in URLs (`pay_01JD...`): letters, digits and underscores only. Anything else is a 404
    at routing, before it can reach a query (PostgreSQL refuses NUL characters with an error)."""

    regex = "[A-Za-z0-9_]{1,64}"

    def to_python(self, value: str) -> str:
        return value

    def to_url(self, value: str) -> str:
        return value
