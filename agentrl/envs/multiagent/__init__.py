"""Multi-agent text environments and PettingZoo, both ways.

* :class:`MultiAgentTextEnv` -- the native turn-based contract (``base.py``);
* :mod:`~agentrl.envs.multiagent.bargaining` -- a two-player bargaining game with private values;
* :func:`to_aec` / :func:`to_parallel` -- agentrl multi-agent envs as PettingZoo envs (``expose.py``);
* :func:`run_multiagent_episodes` -- agentrl policies play any PettingZoo AEC or Parallel env (or a
  native one); one trajectory per agent, for self-play training (``rollout.py``).

PettingZoo is needed only by the adapters and the rollout: ``pip install pettingzoo``.
"""

from __future__ import annotations

from typing import Any

from agentrl.envs.multiagent.base import Move, MultiAgentTextEnv, MultiAgentTextEnvConfig


def to_aec(env: MultiAgentTextEnv):
    """``env`` as a PettingZoo AEC env."""
    from agentrl.envs.multiagent.expose import TextAECEnv

    return TextAECEnv(env)


def to_parallel(env: MultiAgentTextEnv):
    """``env`` as a PettingZoo Parallel env (only the agent to move acts each step)."""
    from agentrl.envs.multiagent.expose import TextParallelEnv

    return TextParallelEnv(env)


def run_multiagent_episodes(*args: Any, **kwargs: Any):
    """See :func:`agentrl.envs.multiagent.rollout.run_multiagent_episodes`."""
    from agentrl.envs.multiagent.rollout import run_multiagent_episodes as run

    return run(*args, **kwargs)


__all__ = [
    "Move",
    "MultiAgentTextEnv",
    "MultiAgentTextEnvConfig",
    "run_multiagent_episodes",
    "to_aec",
    "to_parallel",
]
