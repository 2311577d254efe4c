"""The rollout-backend protocol, and the in-process backend.

Every backend plays :class:`~agentrl.rollout.spec.EpisodeSpec` lists with a policy and returns a
:class:`~agentrl.core.trajectory.TrajectoryBatch` in spec order, so the trainer never needs to know
which one it has:

* :class:`LocalBackend` -- envs in this process (``rollout.backend=local``);
* :class:`agentrl.rollout.ray.RayRolloutBackend` -- envs on Ray actors (``rollout.backend=ray``);
* :class:`agentrl.rollout.selfplay.SelfPlayBackend` -- a multi-agent env, every seat played by the
  policy (``rollout.backend=selfplay``).
"""

from __future__ import annotations

from typing import Callable, Protocol, Sequence, runtime_checkable

import gymnasium as gym

from agentrl.core.policy import Policy
from agentrl.core.trajectory import Trajectory, TrajectoryBatch
from agentrl.rollout.engine import LocalExecutor, RolloutEngine
from agentrl.rollout.spec import EpisodeSpec


@runtime_checkable
class RolloutBackend(Protocol):
    """Plays episodes for the trainer; ``metrics`` are cumulative counters (``rollout/...``)."""

    metrics: dict[str, float]

    def run_episodes(self, policy: Policy, specs: Sequence[EpisodeSpec], *,
                     on_episode: Callable[[Trajectory], None] | None = None) -> TrajectoryBatch: ...

    def close(self) -> None: ...


class LocalBackend:
    """Envs in this process, stepped in order (or from ``threads`` threads, for I/O-bound envs);
    ``waves``: see :class:`~agentrl.rollout.engine.RolloutEngine`."""

    def __init__(self, envs: Sequence[gym.Env], threads: int = 1, waves: int = 1):
        self.engine = RolloutEngine(LocalExecutor(envs, threads), waves)

    @property
    def metrics(self) -> dict[str, float]:
        return self.engine.metrics

    def run_episodes(self, policy: Policy, specs: Sequence[EpisodeSpec], *,
                     on_episode: Callable[[Trajectory], None] | None = None) -> TrajectoryBatch:
        return self.engine.run(policy, specs, on_episode=on_episode)

    def close(self) -> None:
        self.engine.executor.close()
