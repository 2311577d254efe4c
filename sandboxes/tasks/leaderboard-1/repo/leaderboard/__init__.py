from leaderboard.rank import ranking, top

__all__ = ["ranking", "top"]
