"""``isclose`` and ``assert_allclose``, in the style of ``numpy.testing``."""

import math


def isclose(actual, desired, rtol=1e-7, atol=0.0):
    """Whether ``actual`` is within ``atol + rtol * |desired|`` of ``desired``.

    NaN is close to nothing; an infinity is close only to the same infinity.
    """
    if math.isnan(actual) or math.isnan(desired):
        return False
    if math.isinf(actual) or math.isinf(desired):
        return actual == desired
    return abs(actual - desired) <= rtol * abs(desired)


def assert_allclose(actual, desired, rtol=1e-7, atol=0.0, err_msg=""):
    """Raise ``AssertionError`` unless the two sequences have the same length and every pair of
    values is close (see :func:`isclose`)."""
    actual, desired = list(actual), list(desired)
    if len(actual) != len(desired):
        raise AssertionError(f"lengths differ: {len(actual)} != {len(desired)}")
    far = [index for index, (a, d) in enumerate(zip(actual, desired)) if not isclose(a, d, rtol, atol)]
    if far:
        raise AssertionError(f"not close at positions {far} (rtol={rtol}, atol={atol}) {err_msg}".strip())
