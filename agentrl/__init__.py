"""agentrl: multi-turn reinforcement learning for LLM agents.

    import agentrl
    env = agentrl.make("agentrl/Sokoban-v0")
    agentrl.train()                      # the quickstart preset
"""

import importlib

from agentrl import envs as _builtin_envs  # noqa: F401  (registers the built-in env ids)
from agentrl import train  # noqa: F401  (a callable package: agentrl.train(config, **overrides))
from agentrl.core.check import check_text_env
from agentrl.core.registry import list_envs, make, register
from agentrl.rollout import run_episodes

__version__ = "0.1.0"


def evaluate(env_id, policy, **kwargs):
    """Evaluate a policy on an env; see :func:`agentrl.eval.evaluate.evaluate`.

    The evaluation module (and torch with it) loads on first use, so ``import agentrl`` stays light.
    """
    return importlib.import_module("agentrl.eval.evaluate").evaluate(env_id, policy, **kwargs)


__all__ = ["__version__", "check_text_env", "evaluate", "list_envs", "make", "register", "run_episodes", "train"]
