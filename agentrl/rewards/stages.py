"""The reward-stage types a config can name, by class name; custom stages register here."""

from __future__ import annotations

from typing import Any, Mapping

from agentrl.core.config import ConfigError
from agentrl.rewards.ads import AutoDiscountSchedule
from agentrl.core.components import resolve_refs
from agentrl.rewards.base import POLICY_REF, RewardStage
from agentrl.rewards.calm import CALMCredit
from agentrl.rewards.gra import GatedRewardAccumulation
from agentrl.rewards.monitors import RewardHackingMonitor
from agentrl.rewards.oprl import ImplicitPRM

STAGES: dict[str, type[RewardStage]] = {
    cls.__name__: cls
    for cls in (GatedRewardAccumulation, ImplicitPRM, CALMCredit, AutoDiscountSchedule, RewardHackingMonitor)
}


def register_stage(cls: type[RewardStage]) -> type[RewardStage]:
    """Make a custom stage class buildable from configs by its class name (usable as a decorator)."""
    if not (isinstance(cls, type) and issubclass(cls, RewardStage)):
        raise TypeError(f"a stage must subclass agentrl.rewards.base.RewardStage, got {cls!r}")
    STAGES[cls.__name__] = cls
    return cls


def build_stage(spec: Mapping[str, Any], objects: Mapping[str, Any] | None = None) -> RewardStage:
    """A stage from ``{"type": ClassName, **config}``."""
    config = dict(spec)
    name = config.pop("type", None)
    if name not in STAGES:
        raise ConfigError(
            f"unknown reward stage type {name!r}; valid types: {', '.join(sorted(STAGES))} "
            "(register your own with agentrl.rewards.register_stage)"
        )
    # "@policy" is not an object reference: it stays, and the trainer fills it at setup
    return STAGES[name](resolve_refs(config, {POLICY_REF[1:]: POLICY_REF, **(objects or {})}, name))
