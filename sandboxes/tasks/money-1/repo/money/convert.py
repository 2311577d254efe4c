"""Amounts are stored as integer cents."""


def to_cents(amount):
    """``"19.99"`` or ``19.99`` -> ``1999``."""
    return int(float(amount) * 100)


def format_cents(cents):
    """``1999`` -> ``"19.99"``."""
    sign = "-" if cents < 0 else ""
    whole, frac = divmod(abs(cents), 100)
    return f"{sign}{whole}.{frac:02d}"
