"""Moved to :mod:`agentrl.rollout` (kept until every caller imports from there)."""

from agentrl.rollout.engine import run_episodes  # noqa: F401
from agentrl.rollout.spec import EpisodeSpec, grouped_specs  # noqa: F401
