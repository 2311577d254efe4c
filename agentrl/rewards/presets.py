"""Shipped reward pipelines: each env declares its own (``TextEnv.reward_preset()``), this module builds it.

``RewardPipeline.preset(env_id, prm=None, judge=None, cache_dir=None, horizon=None)``:

* ``prm`` -- a causal LM (object, name or path) to add OPRL's :class:`ImplicitPRM` right after the
  G-RA gate (or first, without one). It must share the policy's tokenizer, and trajectories must
  carry token ids (an LM policy), so it is off by default.
* ``judge`` -- replaces CALM's judge (default: the env's own subgoal checks, ``OracleJudge``).
* ``cache_dir`` -- CALM's persistent verdict cache.
* ``horizon`` -- ADS's episode horizon (default: the env's ``max_turns``).

The env's declaration is data (stage configs), so env packages never import the reward stages.
"""

from __future__ import annotations

import copy
from typing import Any

from agentrl.core.config import ConfigError
from agentrl.core.registry import UnknownEnvError, env_class, list_envs
from agentrl.rewards.base import RewardStage
from agentrl.rewards.stages import build_stage


def preset_configs(
    env_id: str,
    *,
    prm: Any = None,
    judge: Any = None,
    cache_dir: str | None = None,
    horizon: int | None = None,
    max_turns: int | None = None,
) -> list[dict[str, Any]]:
    """The stage configs of ``env_id``'s preset with the options applied (see module docstring)."""
    try:
        cls = env_class(env_id)
    except UnknownEnvError:
        cls = None
    configs = copy.deepcopy(_declared(cls))
    if not configs:
        raise ConfigError(f"no reward preset for {env_id!r}; presets exist for: {', '.join(envs_with_presets())}")
    for config in configs:
        kind = config.get("type")
        if kind == "CALMCredit":
            if judge is not None:
                config["judge"] = judge
            if cache_dir is not None:
                config["cache_dir"] = cache_dir
        elif kind == "AutoDiscountSchedule" and config.get("horizon") is None:
            config["horizon"] = horizon or max_turns or getattr(getattr(cls, "Config", None)(), "max_turns", None)
    if prm is not None:
        gates = [i for i, c in enumerate(configs) if c.get("type") == "GatedRewardAccumulation"]
        configs.insert(gates[0] + 1 if gates else 0, {"type": "ImplicitPRM", "model": prm})
    return configs


def _declared(cls: Any) -> list[dict[str, Any]]:
    declared = getattr(cls, "reward_preset", None)
    return declared() if callable(declared) else []


def envs_with_presets() -> list[str]:
    """Registered envs (whose extras are installed) that declare a reward preset."""
    found = []
    for env_id in list_envs():
        try:
            if _declared(env_class(env_id)):
                found.append(env_id)
        except ImportError:  # a missing extra, or a user registration whose module is gone
            continue
    return found


def preset_stages(env_id: str, **options: Any) -> list[RewardStage]:
    """The stages of the preset for ``env_id`` (see module docstring)."""
    return [build_stage(config) for config in preset_configs(env_id, **options)]
