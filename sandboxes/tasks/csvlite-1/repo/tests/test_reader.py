from csvlite import parse_line, parse_text


def test_plain_fields():
    assert parse_line("a,b,c") == ["a", "b", "c"]
    assert parse_line("a,,c") == ["a", "", "c"]


def test_quoted_field_without_comma():
    assert parse_line('"x",y') == ["x", "y"]


def test_text():
    assert parse_text("a,b\n\nc,d\n") == [["a", "b"], ["c", "d"]]
