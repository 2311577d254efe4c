"""Evaluation: policies on envs, routers on cost against quality, and plots."""
