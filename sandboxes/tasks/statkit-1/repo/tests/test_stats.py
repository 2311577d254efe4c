import pytest

from statkit import mean, median, spread


def test_mean():
    assert mean([1, 2, 3, 6]) == 3


def test_median_odd():
    assert median([5, 1, 3]) == 3


def test_spread():
    assert spread([4, -1, 7]) == 8


def test_empty_input_is_rejected():
    for function in (mean, median, spread):
        with pytest.raises(ValueError):
            function([])
