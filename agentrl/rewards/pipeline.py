"""``RewardPipeline``: reward stages applied in order between the rollout and the learner.

    pipeline = RewardPipeline([GatedRewardAccumulation(...), CALMCredit(...), AutoDiscountSchedule(...)])
    batch = pipeline(batch)                     # writes turn.fields and batch.metrics
    cfg = pipeline.to_config()                  # [{"type": "GatedRewardAccumulation", ...}, ...]
    same = RewardPipeline.from_config(cfg)
    RewardPipeline.preset("agentrl/Sokoban-v0") # the shipped pipeline for an env

Each stage's metrics land in ``batch.metrics`` under its prefix (``gra/``, ``oprl/``, ``calm/``,
``ads/``, ``monitor/``), and the pipeline adds the wall time of each stage as
``pipeline/<prefix>_ms``. ``state_dict()`` gathers the stages' learned and adaptive state.
"""

from __future__ import annotations

import time
from typing import Any, Iterator, Mapping, Sequence

from agentrl.core.config import ConfigError
from agentrl.core.trajectory import TrajectoryBatch
from agentrl.rewards.base import RewardStage, TrainingContext
from agentrl.rewards.presets import preset_stages
from agentrl.rewards.stages import build_stage

def check_composition(stages: Sequence[Any]) -> None:
    """Stages must not undo each other: a stage that adds to ``fields["reward"]`` comes before any
    reward gate, and that gate covers its field, so a failed episode cannot earn it."""
    adders: list[Any] = []
    for index, stage in enumerate(stages):
        if getattr(stage, "adds_to_reward", None):
            later_gates = [s for s in stages[index + 1:] if getattr(s, "gates_reward", False)]
            earlier_gates = [s for s in stages[:index] if getattr(s, "gates_reward", False)]
            if earlier_gates:
                raise ConfigError(
                    f"{type(stage).__name__} adds to the reward after {type(earlier_gates[0]).__name__}, so its "
                    "reward would bypass the gate: put it before the gate"
                )
            adders.append((stage, later_gates))
    for stage, gates in adders:
        for gate in gates:
            if stage.adds_to_reward not in gate.gated_fields():
                raise ConfigError(
                    f"{type(gate).__name__} does not gate {type(stage).__name__}'s field {stage.adds_to_reward!r}; "
                    f"add it to the gate's auxiliary fields (auxiliary: [{stage.adds_to_reward!r}])"
                )


class RewardPipeline:
    """An ordered list of reward stages (see module docstring)."""

    def __init__(self, stages: Sequence[RewardStage] = ()) -> None:
        self.stages = list(stages)
        for stage in self.stages:
            if not callable(stage):
                raise TypeError(f"a stage must be callable on a TrajectoryBatch, got {stage!r}")
        check_composition(self.stages)

    def __call__(self, batch: TrajectoryBatch) -> TrajectoryBatch:
        for key, stage in zip(self._timing_keys(), self.stages):
            start = time.perf_counter()
            result = stage(batch)
            if not isinstance(result, TrajectoryBatch):
                raise TypeError(
                    f"{type(stage).__name__} returned {type(result).__name__}, not a TrajectoryBatch"
                )
            batch = result
            batch.metrics[key] = (time.perf_counter() - start) * 1000.0
        return batch

    def _timing_keys(self) -> list[str]:
        prefixes = [getattr(stage, "metric_prefix", type(stage).__name__) for stage in self.stages]
        return [
            f"pipeline/{p}_ms" if prefixes.count(p) == 1 else f"pipeline/{p}{i}_ms"
            for i, p in enumerate(prefixes)
        ]

    # ------------------------------------------------------------------ config
    def to_config(self) -> list[dict[str, Any]]:
        return [stage.to_config() for stage in self.stages]

    @classmethod
    def from_config(
        cls, config: Sequence[Mapping[str, Any]] | Mapping[str, Any], objects: Mapping[str, Any] | None = None
    ) -> "RewardPipeline":
        """Build from ``to_config()`` output (a list, or ``{"stages": [...]}``).

        ``objects`` supplies the values of ``@Stage.field`` references, which stand for objects a
        config file cannot hold (for example ``{"ImplicitPRM.model": model}``).
        """
        if isinstance(config, Mapping):
            if set(config) - {"stages"}:
                raise ConfigError(f"a pipeline config has one key, 'stages'; got {sorted(config)}")
            config = config.get("stages", [])
        stages = []
        for index, spec in enumerate(config):
            if not isinstance(spec, Mapping):
                raise ConfigError(f"stage {index} must be a mapping with a 'type' key, got {spec!r}")
            stages.append(build_stage(spec, objects))
        return cls(stages)

    @classmethod
    def preset(cls, env_id: str, **options: Any) -> "RewardPipeline":
        """The shipped pipeline for ``env_id``; see :mod:`agentrl.rewards.presets` for options."""
        return cls(preset_stages(env_id, **options))

    # ------------------------------------------------------------------ training hooks
    def setup(self, context: TrainingContext) -> None:
        """Give every stage the trainer's context (once, after the warm start)."""
        for stage in self.stages:
            if isinstance(stage, RewardStage):
                stage.setup(context)

    def observe_evaluation(self, batch: TrajectoryBatch) -> TrajectoryBatch:
        """Show every stage the latest held-out evaluation; their metrics land in ``batch.metrics``."""
        for stage in self.stages:
            if isinstance(stage, RewardStage):
                stage.observe_evaluation(batch)
        return batch

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"stages": [{"type": type(s).__name__, "state": s.state_dict()} for s in self.stages]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        saved = list(state.get("stages", []))
        types = [type(s).__name__ for s in self.stages]
        saved_types = [item["type"] for item in saved]
        if saved_types != types:
            raise ValueError(f"saved pipeline state has stages {saved_types} but this pipeline has {types}")
        for stage, item in zip(self.stages, saved):
            stage.load_state_dict(item["state"])

    # ------------------------------------------------------------------ container
    def __iter__(self) -> Iterator[RewardStage]:
        return iter(self.stages)

    def __len__(self) -> int:
        return len(self.stages)

    def __getitem__(self, index: int) -> RewardStage:
        return self.stages[index]

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(s) for s in self.stages)
        return f"RewardPipeline([\n  {inner}\n])" if self.stages else "RewardPipeline([])"

    def close(self) -> None:
        for stage in self.stages:
            stage.close()

    def __enter__(self) -> "RewardPipeline":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
