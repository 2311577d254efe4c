from shop.pricing import apply_discount


class Cart:
    def __init__(self):
        self.lines = []

    def add(self, name, price_cents, quantity=1):
        self.lines.append((name, price_cents, quantity))

    def subtotal(self):
        return sum(price * quantity for _, price, quantity in self.lines)

    def total(self, discount_percent=0):
        """The subtotal after a discount of ``discount_percent`` per cent."""
        return apply_discount(self.subtotal(), discount_percent / 100)
