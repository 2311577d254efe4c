import pytest

from calendar_utils import day_of_year, days_in_month, is_leap


def test_ordinary_years():
    assert is_leap(2024) and not is_leap(2023)
    assert not is_leap(1900) and not is_leap(2100)


def test_days_in_month():
    assert days_in_month(2024, 2) == 29
    assert days_in_month(2023, 2) == 28
    with pytest.raises(ValueError):
        days_in_month(2023, 13)


def test_day_of_year():
    assert day_of_year(2023, 12, 31) == 365
    assert day_of_year(2024, 3, 1) == 61
