"""Policy versions: which weights sampled each turn, and how stale a trajectory is.

The learner counts its updates (one per RL iteration: :attr:`agentrl.train.learner.Learner.version`);
:class:`VersionedPolicy` stamps every action with the version of the weights that produced it
(``ActionOutput.policy_version``, copied into ``Turn.policy_version``), and a weight update waits
for the ``act`` call in progress, so one turn is never sampled from two sets of weights.

A trajectory's *staleness* at update time is the learner's version minus the oldest version among
its turns: 0 for a synchronous rollout, up to ``rl.max_staleness`` for an asynchronous one.
"""

from __future__ import annotations

import threading
from contextlib import contextmanager
from typing import Callable, Iterator, Sequence

from agentrl.core.policy import ActionOutput, Policy, PolicyInput
from agentrl.core.trajectory import Trajectory


class VersionedPolicy:
    """Wraps a policy: stamps each action with the current weights' version; ``publish`` swaps the
    weights between ``act`` calls."""

    def __init__(self, policy: Policy, version: int = 0):
        self.policy = policy
        self.version = version
        self._lock = threading.Lock()

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        with self._lock:
            outputs = self.policy.act(inputs)
            for output in outputs:
                output.policy_version = self.version
        return outputs

    def publish(self, load_weights: Callable[[], None], version: int) -> None:
        """Run ``load_weights`` (the learner-to-policy sync) once no action is being sampled, and
        stamp later actions with ``version``."""
        with self._lock:
            load_weights()
            self.version = version

    @contextmanager
    def paused(self) -> Iterator[None]:
        """No action is sampled inside the block (evaluation shares the acting model)."""
        with self._lock:
            yield


def oldest_version(trajectory: Trajectory) -> int | None:
    """The oldest policy version among the trajectory's turns (None without turns)."""
    return min((turn.policy_version for turn in trajectory.turns), default=None)


def staleness(trajectory: Trajectory, version: int) -> int:
    """How many versions older than ``version`` the trajectory's oldest turn is (0 without turns)."""
    oldest = oldest_version(trajectory)
    return 0 if oldest is None else version - oldest


def is_fresh(trajectory: Trajectory, version: int, max_staleness: int) -> bool:
    """True when no turn of the trajectory is more than ``max_staleness`` versions old."""
    return staleness(trajectory, version) <= max_staleness


def staleness_stats(trajectories: Sequence[Trajectory], version: int) -> dict[str, float]:
    """Mean and max staleness over the trajectories' turns, against ``version``."""
    ages = [version - turn.policy_version for trajectory in trajectories for turn in trajectory.turns]
    if not ages:
        return {"staleness_mean": 0.0, "staleness_max": 0.0}
    return {"staleness_mean": sum(ages) / len(ages), "staleness_max": float(max(ages))}
