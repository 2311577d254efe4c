"""One shipped reward pipeline per built-in env.

``RewardPipeline.preset(env_id, prm=None, judge=None, cache_dir=None, horizon=None)``:

* ``prm`` -- a causal LM (object, name or path) to add OPRL's :class:`ImplicitPRM`. It must share the
  policy's tokenizer, and trajectories must carry token ids (an LM policy), so it is off by default.
* ``judge`` -- replaces CALM's judge (default: the env's own subgoal checks, ``OracleJudge``).
* ``cache_dir`` -- CALM's persistent verdict cache.
* ``horizon`` -- ADS's episode horizon (default: the env's default ``max_turns``).

=====================  ==============================================================================
env                    stages
=====================  ==============================================================================
agentrl/Sokoban-v0     G-RA (``finished`` gates ``step``/``box``/``format``), [OPRL], CALM (oracle,
                       beta 1.0), ADS (H = 20), monitor
agentrl/SWE-v0         G-RA (``outcome`` >= 1 gates ``format``/``tool_success``/``modification``/
                       ``tests_run``), [OPRL], monitor
agentrl/MiniHack-v0    CALM (oracle, beta 0.2), ADS, [OPRL], monitor
agentrl/WebShop-v0     [OPRL], monitor (OPRL's own benchmark; the purchase reward is terminal)
agentrl/Router-v0      monitor (the routing reward is already complete per turn)
=====================  ==============================================================================
"""

from __future__ import annotations

from typing import Any, Callable

from agentrl.core.config import ConfigError
from agentrl.core.registry import qualify
from agentrl.rewards.ads import AutoDiscountSchedule
from agentrl.rewards.base import RewardStage
from agentrl.rewards.calm import CALMCredit
from agentrl.rewards.gra import GatedRewardAccumulation
from agentrl.rewards.monitors import RewardHackingMonitor
from agentrl.rewards.oprl import ImplicitPRM

SOKOBAN_IMMEDIATE = ["step", "box", "format"]
SWE_IMMEDIATE = ["format", "tool_success", "modification", "tests_run"]


def _prm(prm: Any) -> list[RewardStage]:
    return [ImplicitPRM(model=prm)] if prm is not None else []


def sokoban(prm=None, judge=None, cache_dir=None, horizon=None) -> list[RewardStage]:
    # "finished" is +10 exactly when every box is placed, so any threshold in (0, 10] means solved.
    return [
        GatedRewardAccumulation(priorities={"finished": 1}, thresholds={"finished": 1.0}),
        *_prm(prm),
        CALMCredit(judge=judge or "oracle", beta=1.0, cache_dir=cache_dir),
        AutoDiscountSchedule(horizon=horizon or 20),
        RewardHackingMonitor(immediate_components=SOKOBAN_IMMEDIATE),
    ]


def swe(prm=None, judge=None, cache_dir=None, horizon=None) -> list[RewardStage]:
    return [
        GatedRewardAccumulation(priorities={"outcome": 1}, thresholds={"outcome": 1.0}),
        *_prm(prm),
        RewardHackingMonitor(immediate_components=SWE_IMMEDIATE),
    ]


def minihack(prm=None, judge=None, cache_dir=None, horizon=None) -> list[RewardStage]:
    return [
        CALMCredit(judge=judge or "oracle", beta=0.2, cache_dir=cache_dir),
        AutoDiscountSchedule(horizon=horizon),
        *_prm(prm),
        RewardHackingMonitor(),
    ]


def webshop(prm=None, judge=None, cache_dir=None, horizon=None) -> list[RewardStage]:
    return [*_prm(prm), RewardHackingMonitor()]


def router(prm=None, judge=None, cache_dir=None, horizon=None) -> list[RewardStage]:
    return [*_prm(prm), RewardHackingMonitor()]


PRESETS: dict[str, Callable[..., list[RewardStage]]] = {
    "agentrl/Sokoban-v0": sokoban,
    "agentrl/SWE-v0": swe,
    "agentrl/MiniHack-v0": minihack,
    "agentrl/WebShop-v0": webshop,
    "agentrl/Router-v0": router,
}


def preset_stages(
    env_id: str,
    *,
    prm: Any = None,
    judge: Any = None,
    cache_dir: str | None = None,
    horizon: int | None = None,
) -> list[RewardStage]:
    """The stages of the preset for ``env_id`` (see module docstring)."""
    build = PRESETS.get(qualify(env_id))
    if build is None:
        raise ConfigError(f"no reward preset for {env_id!r}; presets exist for: {', '.join(sorted(PRESETS))}")
    return build(prm=prm, judge=judge, cache_dir=cache_dir, horizon=horizon)
