"""agentrl: multi-turn reinforcement learning for LLM agents.

    import agentrl
    env = agentrl.make("agentrl/Sokoban-v0")
    agentrl.train()                      # the quickstart preset
"""

from agentrl import envs as _builtin_envs  # noqa: F401  (registers the built-in env ids)
from agentrl.core.registry import list_envs, make, register
from agentrl.core.rollout import run_episodes

__version__ = "0.1.0"


from agentrl import train  # noqa: E402  (a callable package: agentrl.train(config, **overrides))


def evaluate(env_id, policy, **kwargs):
    """Evaluate a policy on an env; see :func:`agentrl.eval.evaluate.evaluate`."""
    from agentrl.eval.evaluate import evaluate as _evaluate

    return _evaluate(env_id, policy, **kwargs)


__all__ = ["__version__", "evaluate", "list_envs", "make", "register", "run_episodes", "train"]
