from timeutil.durations import elapsed_seconds, format_elapsed

__all__ = ["elapsed_seconds", "format_elapsed"]
