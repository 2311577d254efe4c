def elapsed_seconds(start, end):
    """Seconds from ``start`` to ``end`` (negative when ``end`` is earlier)."""
    return (end - start).seconds


def format_elapsed(start, end):
    """``"1h 02m 03s"``."""
    seconds = int(elapsed_seconds(start, end))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}h {minutes:02d}m {seconds:02d}s"
