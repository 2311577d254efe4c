"""The two-player bargaining game, with PettingZoo-style constructors::

    from agentrl.envs.multiagent import bargaining
    aec = bargaining.env()              # PettingZoo AEC env
    par = bargaining.parallel_env()     # PettingZoo Parallel env
    raw = bargaining.raw_env()          # the native agentrl MultiAgentTextEnv

The PettingZoo views default to ``observation_mode="dict"``: PettingZoo's own API test reads a
NumPy ``dtype`` off every observation, which a bare string lacks. Keyword arguments are config
keys (``max_turns=8``, ``reward="judge"``, ``judge="oracle"``).
"""

from __future__ import annotations

from typing import Any

from agentrl.envs.multiagent import to_aec, to_parallel
from agentrl.envs.multiagent.bargaining.env import BargainingConfig, BargainingEnv
from agentrl.envs.multiagent.bargaining.game import (
    PLAYERS,
    Negotiation,
    Scenario,
    ScenarioConfig,
    pareto_optimal,
)
from agentrl.envs.multiagent.bargaining.goals import Goal, draw_goals
from agentrl.envs.multiagent.bargaining.negotiators import TimeDependentNegotiator


def raw_env(**kwargs: Any) -> BargainingEnv:
    return BargainingEnv(**kwargs)


def env(**kwargs: Any):
    """The AEC view; observations default to ``{"text", "observation"}`` dicts (see ``expose.py``)."""
    return to_aec(BargainingEnv(**{"observation_mode": "dict", **kwargs}))


def parallel_env(**kwargs: Any):
    """The Parallel view; observations default to ``{"text", "observation"}`` dicts."""
    return to_parallel(BargainingEnv(**{"observation_mode": "dict", **kwargs}))


__all__ = [
    "PLAYERS",
    "BargainingConfig",
    "BargainingEnv",
    "Goal",
    "Negotiation",
    "draw_goals",
    "Scenario",
    "ScenarioConfig",
    "TimeDependentNegotiator",
    "env",
    "pareto_optimal",
    "parallel_env",
    "raw_env",
]
