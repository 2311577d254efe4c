"""Descriptive statistics of a non-empty list of numbers."""


def _check(values):
    if not values:
        raise ValueError("need at least one value")


def mean(values):
    _check(values)
    return sum(values) / len(values)


def median(values):
    _check(values)
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def spread(values):
    """Largest minus smallest value."""
    _check(values)
    return max(values) - min(values)
