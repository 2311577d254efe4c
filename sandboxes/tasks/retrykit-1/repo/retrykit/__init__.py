from retrykit.retry import retry

__all__ = ["retry"]
