"""Split sequences into numbered pages (pages are numbered from 1)."""


def page_count(total, per_page):
    """How many pages ``total`` items fill at ``per_page`` items per page."""
    if per_page < 1:
        raise ValueError("per_page must be at least 1")
    return total // per_page


def get_page(items, page, per_page):
    """The items on page number ``page`` (1-based)."""
    if page < 1 or page > page_count(len(items), per_page):
        raise IndexError(f"page {page} out of range")
    start = (page - 1) * per_page
    return items[start:start + per_page]
