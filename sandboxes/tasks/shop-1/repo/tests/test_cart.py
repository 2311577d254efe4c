from shop.cart import Cart


def make_cart():
    cart = Cart()
    cart.add("pen", 150, quantity=4)
    cart.add("book", 1200)
    return cart


def test_subtotal():
    assert make_cart().subtotal() == 1800


def test_total_without_discount():
    assert make_cart().total() == 1800


def test_total_with_discount():
    assert make_cart().total(discount_percent=25) == 1350
