"""What every reward stage shares: a typed config, a recorded constructor, state, metrics, and the
hooks through which a trainer gives stages what they cannot compute from a batch alone.

A stage is a small class with one method, ``__call__(batch) -> batch``. It writes named per-turn
values into ``turn.fields`` and ``stage/name`` metrics into ``batch.metrics``; it never touches
``turn.reward`` or ``turn.reward_components``. Its constructor takes one typed config dataclass
(or the same fields as keyword arguments), so ``to_config()`` can write it back out and
:meth:`RewardPipeline.from_config <agentrl.rewards.pipeline.RewardPipeline.from_config>` can
rebuild it. Stages that learn or adapt (the PRM, the ADS horizon) also expose ``state_dict`` /
``load_state_dict`` so a resumed run continues exactly.

Two public hooks connect a stage to training, both no-ops by default:

* ``setup(context)`` -- once, after the warm start: a :class:`TrainingContext` offers a copy of the
  policy's model (OPRL's PRM starts from it), the env expert's demonstrations on the evaluation
  tasks (ADS's reference), and episodes of the frozen base policy (the monitor's reference);
* ``observe_evaluation(batch)`` -- after each held-out evaluation (ADS measures mastery there).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Mapping

from agentrl.core.components import Configurable
from agentrl.core.trajectory import TrajectoryBatch


#: A stage config value meaning "a copy of the policy's model, given by the trainer at setup".
POLICY_REF = "@policy"


@dataclass
class TrainingContext:
    """What a trainer offers reward stages at ``setup`` (each item built only when asked for)."""

    policy_model: Callable[[], Any] | None = None
    """A fresh copy of the policy's language model after the warm start (None for non-LM policies)."""
    expert_demonstrations: Callable[[], TrajectoryBatch] | None = None
    """The env expert's episodes on the held-out evaluation tasks (None when the env has no expert)."""
    base_policy_episodes: Callable[[], TrajectoryBatch] | None = None
    """Episodes of the frozen policy at the start of RL, sampled as training rollouts are."""


class RewardStage(Configurable):
    """Base class of the pipeline stages (see module docstring)."""

    metric_prefix: ClassVar[str] = "stage"
    """Metrics are written as ``f"{metric_prefix}/{name}"``."""
    adds_to_reward: ClassVar[str | None] = None
    """The field a stage adds to ``fields["reward"]`` (e.g. ``"calm"``); a reward gate placed after
    such a stage must gate that field too, or the pipeline refuses to build."""
    gates_reward: ClassVar[bool] = False
    """The stage recomputes ``fields["reward"]`` through a gate (G-RA); stages adding to the reward
    must come before it."""

    def __call__(self, batch: TrajectoryBatch) -> TrajectoryBatch:
        raise NotImplementedError

    def setup(self, context: TrainingContext) -> None:
        """Called once by a trainer after the warm start (see module docstring)."""

    def observe_evaluation(self, batch: TrajectoryBatch) -> None:
        """Called by a trainer with each batch of held-out evaluation episodes."""

    def gated_fields(self) -> tuple[str, ...]:
        """Fields of earlier stages this stage's gate covers (gating stages only)."""
        return ()

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
