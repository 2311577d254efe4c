"""Rollouts: playing episodes with a policy and assembling trajectories.

* :class:`EpisodeSpec`, :func:`grouped_specs` -- what to play;
* :func:`run_episodes` -- play specs on envs in this process;
* :class:`RolloutBackend` -- the protocol every backend follows: :class:`LocalBackend` here,
  ``agentrl.rollout.ray.RayRolloutBackend`` (needs the ``ray`` extra) and
  ``agentrl.rollout.selfplay.SelfPlayBackend`` (needs ``pettingzoo``);
* :class:`VersionedPolicy` -- stamps each turn with the weights' version;
  :class:`AsyncRollouts` -- plays episodes in a background thread while the learner trains.
"""

from agentrl.rollout.asynchronous import AsyncRollouts
from agentrl.rollout.backend import LocalBackend, RolloutBackend
from agentrl.rollout.engine import (
    Command,
    EnvExecutor,
    LocalExecutor,
    Reply,
    RolloutEngine,
    SpecQueue,
    SpecSource,
    run_episodes,
)
from agentrl.rollout.spec import EpisodeSpec, grouped_specs
from agentrl.rollout.versions import VersionedPolicy

__all__ = [
    "AsyncRollouts", "Command", "EnvExecutor", "EpisodeSpec", "LocalBackend", "LocalExecutor", "Reply",
    "RolloutBackend", "RolloutEngine", "SpecQueue", "SpecSource", "VersionedPolicy", "grouped_specs",
    "run_episodes",
]
