from money import format_cents, to_cents


def test_whole_amounts():
    assert to_cents("10") == 1000
    assert to_cents(2.5) == 250


def test_format():
    assert format_cents(1999) == "19.99"
    assert format_cents(-5) == "-0.05"
