from statkit.stats import mean, median, spread

__all__ = ["mean", "median", "spread"]
