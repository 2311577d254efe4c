import math

import pytest

from tolerance.testing import assert_allclose, isclose


def test_relative_tolerance():
    assert isclose(100.0, 100.00001, rtol=1e-6)
    assert not isclose(100.0, 100.1, rtol=1e-6)


def test_nan_and_infinity():
    assert not isclose(math.nan, math.nan)
    assert isclose(math.inf, math.inf)
    assert not isclose(math.inf, -math.inf)


def test_assert_allclose_reports_positions():
    assert_allclose([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(AssertionError, match=r"positions \[1\]"):
        assert_allclose([1.0, 2.5], [1.0, 2.0])


def test_lengths_must_match():
    with pytest.raises(AssertionError, match="lengths differ"):
        assert_allclose([1.0], [1.0, 2.0])
