"""Assertion helpers for code that computes with floats (library code, not tests)."""

from tolerance.testing.asserts import assert_allclose, isclose

__all__ = ["assert_allclose", "isclose"]
