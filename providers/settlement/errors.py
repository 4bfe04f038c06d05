class ReportFormatError(ValueError):
    """A settlement file that does not follow its provider's layout, or contradicts itself (a
    trailer whose record count or totals disagree with its lines): it is refused as a whole."""
