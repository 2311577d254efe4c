"""Prices are integers in cents."""


def apply_discount(price_cents, percent):
    """The price after a discount of ``percent`` per cent (0-100), rounded to the cent."""
    if not 0 <= percent <= 100:
        raise ValueError("percent must be between 0 and 100")
    return round(price_cents * (1 - percent))
