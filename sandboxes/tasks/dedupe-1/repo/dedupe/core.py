"""Order-preserving de-duplication."""


def unique(items):
    """The items without duplicates, in first-seen order. Items must be hashable."""
    kept = []
    for item in items:
        if item not in kept:
            kept.append(item)
    return kept
