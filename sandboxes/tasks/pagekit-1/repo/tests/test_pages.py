import pytest

from pagekit import get_page, page_count


def test_exact_pages():
    assert page_count(10, 5) == 2
    assert get_page(list(range(10)), 2, 5) == [5, 6, 7, 8, 9]


def test_no_items():
    assert page_count(0, 5) == 0


def test_invalid_per_page():
    with pytest.raises(ValueError):
        page_count(3, 0)


def test_page_zero_is_out_of_range():
    with pytest.raises(IndexError):
        get_page([1, 2, 3], 0, 2)
