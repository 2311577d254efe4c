from streamstats.summary import summarize

__all__ = ["summarize"]
