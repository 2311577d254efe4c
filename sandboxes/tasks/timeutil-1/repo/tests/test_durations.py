from datetime import datetime

from timeutil import elapsed_seconds, format_elapsed


def test_same_day():
    assert elapsed_seconds(datetime(2024, 5, 1, 10), datetime(2024, 5, 1, 11, 0, 30)) == 3630


def test_format():
    assert format_elapsed(datetime(2024, 5, 1, 10), datetime(2024, 5, 1, 11, 2, 3)) == "1h 02m 03s"
