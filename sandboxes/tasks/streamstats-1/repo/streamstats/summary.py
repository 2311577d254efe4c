def summarize(values):
    """Count, total and mean of any iterable of numbers (lists, tuples, generators...)."""
    total = sum(values)
    count = len(list(values))
    return {"count": count, "total": total, "mean": total / count if count else 0.0}
