"""Multi-agent text environments and PettingZoo, both ways.

* :class:`MultiAgentTextEnv` -- the native turn-based contract (``base.py``);
* :mod:`~agentrl.envs.multiagent.bargaining` -- a two-player bargaining game with private values;
* :func:`to_aec` / :func:`to_parallel` -- agentrl multi-agent envs as PettingZoo envs (``expose.py``);
* agentrl policies play any PettingZoo AEC or Parallel env (or a native one) with
  :func:`agentrl.rollout.multiagent.run_multiagent_episodes`; one trajectory per agent, for self-play
  training (:class:`agentrl.rollout.selfplay.SelfPlayBackend`).

PettingZoo is needed only by the adapters and the rollout: ``pip install pettingzoo``.
"""

from __future__ import annotations

from agentrl.core.extras import optional_module
from agentrl.envs.multiagent.base import Move, MultiAgentTextEnv, MultiAgentTextEnvConfig


def to_aec(env: MultiAgentTextEnv):
    """``env`` as a PettingZoo AEC env (needs ``pettingzoo``: the ``multiagent`` extra)."""
    return optional_module("agentrl.envs.multiagent.expose", "multiagent").TextAECEnv(env)


def to_parallel(env: MultiAgentTextEnv):
    """``env`` as a PettingZoo Parallel env (only the agent to move acts each step)."""
    return optional_module("agentrl.envs.multiagent.expose", "multiagent").TextParallelEnv(env)


__all__ = [
    "Move",
    "MultiAgentTextEnv",
    "MultiAgentTextEnvConfig",
    "to_aec",
    "to_parallel",
]
