import time


def retry(func, attempts=3, exceptions=(Exception,), delay=0.0, sleep=time.sleep):
    """Call ``func`` until it succeeds, at most ``attempts`` times.

    Only ``exceptions`` are retried; anything else propagates at once. When every attempt
    fails, the error of the last attempt is raised.
    """
    if attempts < 1:
        raise ValueError("attempts must be at least 1")
    for attempt in range(attempts):
        try:
            return func()
        except exceptions:
            if attempt < attempts - 1:
                sleep(delay)
    return None
