"""Approximate comparisons for numeric code."""

from tolerance.testing import assert_allclose, isclose

__all__ = ["assert_allclose", "isclose"]
