import pytest

from confparse import ConfigError, get_int, parse, require


def test_parse_ignores_comments_and_blank_lines():
    text = "# settings\nhost = example.org\n\nport = 8080  # default\n"
    assert parse(text) == {"host": "example.org", "port": "8080"}


def test_parse_rejects_lines_without_equals():
    with pytest.raises(ConfigError, match="line 1"):
        parse("just words")


def test_require_present_key():
    assert require({"host": "a"}, "host") == "a"


def test_get_int():
    assert get_int(parse("port = 8080"), "port") == 8080
