"""What every reward stage shares: a typed config, a recorded constructor, state, metrics.

A stage is a small class with one method, ``__call__(batch) -> batch``. It writes named per-turn
values into ``turn.fields`` and ``stage/name`` metrics into ``batch.metrics``; it never touches
``turn.reward`` or ``turn.reward_components``. Its constructor takes one typed config dataclass
(or the same fields as keyword arguments), so ``to_config()`` can write it back out and
:meth:`RewardPipeline.from_config <agentrl.rewards.pipeline.RewardPipeline.from_config>` can
rebuild it. Stages that learn or adapt (the PRM, the ADS horizon) also expose ``state_dict`` /
``load_state_dict`` so a resumed run continues exactly.
"""

from __future__ import annotations

from typing import Any, ClassVar, Mapping

from agentrl.core.components import Configurable
from agentrl.core.trajectory import TrajectoryBatch

class RewardStage(Configurable):
    """Base class of the pipeline stages (see module docstring)."""

    metric_prefix: ClassVar[str] = "stage"
    """Metrics are written as ``f"{metric_prefix}/{name}"``."""

    def __call__(self, batch: TrajectoryBatch) -> TrajectoryBatch:
        raise NotImplementedError

    def state_dict(self) -> dict[str, Any]:
        """Learned or adaptive state (empty for stateless stages)."""
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if state:
            raise ValueError(f"{type(self).__name__} is stateless but got state keys {sorted(state)}")

    def record(self, batch: TrajectoryBatch, metrics: Mapping[str, float]) -> None:
        """Write metrics under this stage's prefix."""
        for name, value in metrics.items():
            batch.metrics[f"{self.metric_prefix}/{name}"] = float(value)

    def close(self) -> None:
        """Release resources (files, clients). Stages without any need not override it."""


def turn_reward(turn) -> float:
    """The reward a stage should build on: ``fields["reward"]`` if set, else the raw reward."""
    return float(turn.fields.get("reward", turn.reward))
