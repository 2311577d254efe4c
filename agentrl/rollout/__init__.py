"""Rollouts: playing episodes with a policy and assembling trajectories.

* :class:`EpisodeSpec`, :func:`grouped_specs` -- what to play;
* :func:`run_episodes` -- play specs on envs in this process;
* :class:`RolloutBackend` -- the protocol every backend follows: :class:`LocalBackend` here,
  ``agentrl.rollout.ray.RayRolloutBackend`` (needs the ``ray`` extra) and
  ``agentrl.rollout.selfplay.SelfPlayBackend`` (needs ``pettingzoo``).
"""

from agentrl.rollout.backend import LocalBackend, RolloutBackend
from agentrl.rollout.engine import Command, EnvExecutor, LocalExecutor, Reply, RolloutEngine, run_episodes
from agentrl.rollout.spec import EpisodeSpec, grouped_specs

__all__ = [
    "Command", "EnvExecutor", "EpisodeSpec", "LocalBackend", "LocalExecutor", "Reply", "RolloutBackend",
    "RolloutEngine", "grouped_specs", "run_episodes",
]
