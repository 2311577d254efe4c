"""Reward pipeline stages (filled in by the reward-pipeline work)."""
