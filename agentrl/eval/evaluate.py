"""Evaluate a policy on an environment: over fixed seeds, or over a published split's fixed tasks;
and what a training run evaluated on (its env, env settings and held-out seeds), so a trained
policy or a baseline is measured on the run's own terms."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agentrl.core.config import ConfigError
from agentrl.core.policy import Policy
from agentrl.core.registry import make
from agentrl.eval.policy_specs import make_policy
from agentrl.rollout import EpisodeSpec, grouped_specs, run_episodes
from agentrl.train.checkpoint import resolve_checkpoint
from agentrl.train.restore import checkpoint_config

#: Episodes played when neither ``episodes`` nor ``split`` says how many.
DEFAULT_EPISODES = 50


def evaluate(
    env_id: str,
    policy: Policy | str,
    *,
    episodes: int | None = None,
    seed: int = 10_000,
    num_envs: int = 8,
    env_kwargs: dict[str, Any] | None = None,
    split: str | None = None,
) -> dict[str, Any]:
    """Play episodes and summarise them.

    Without ``split``: ``episodes`` episodes (default 50) on seeds ``seed .. seed+episodes-1``.
    With ``split``: each of the env's fixed tasks of that split once, in order
    (``env.evaluation_tasks(split)``, e.g. WebShop's test goals 0..499), the first ``episodes`` of
    them when given; task ``i`` is reset with seed ``seed + i``.
    """
    if episodes is not None and episodes < 1:
        raise ConfigError(f"episodes must be >= 1, got {episodes}")
    env_kwargs = dict(env_kwargs or {})
    envs = [make(env_id, **env_kwargs)]
    try:
        specs = _episode_specs(env_id, envs[0], split, episodes, seed)
        envs += [make(env_id, **env_kwargs) for _ in range(min(num_envs, len(specs)) - 1)]
        if isinstance(policy, str):
            policy_name = policy
            policy = make_policy(policy, envs[0])
        else:
            policy_name = type(policy).__name__
        batch = run_episodes(envs, policy, specs)
    finally:
        for env in envs:
            env.close()
    return {
        "env": env_id,
        "policy": policy_name,
        "env_kwargs": env_kwargs,
        "split": split,
        "seeds": [seed, seed + len(specs) - 1],
        "summary": batch.summary(),
        "episodes": [
            {"task_id": t.task_id, "success": t.success, "outcome": t.outcome, "return": t.total_reward,
             "turns": len(t.turns)}
            for t in batch
        ],
    }


def _episode_specs(
    env_id: str, env: Any, split: str | None, episodes: int | None, seed: int
) -> list[EpisodeSpec]:
    """Seeded episodes, or the split's fixed tasks in order (an unknown split lists the env's)."""
    if split is None:
        return grouped_specs(range(seed, seed + (DEFAULT_EPISODES if episodes is None else episodes)), 1)
    tasks = env.unwrapped.evaluation_tasks(split)
    if tasks is None:
        known = env.unwrapped.evaluation_splits()
        listed = f"its splits: {', '.join(known)}" if known else "it has no fixed evaluation splits"
        raise ConfigError(f"{env_id} has no evaluation split {split!r}; {listed}")
    tasks = tasks[:episodes] if episodes is not None else tasks
    return [
        EpisodeSpec(seed=seed + i, group_id=f"{split}-{i}", options=dict(task))
        for i, task in enumerate(tasks)
    ]


@dataclass
class RunDefaults:
    """What a training run's own evaluation used: ``agentrl eval`` defaults to it for the run's policy."""

    checkpoint: Path
    env_id: str
    env_kwargs: dict[str, Any]
    """The run's ``env.kwargs`` with its ``env.eval_kwargs`` on top."""
    seed: int
    """The run's first held-out seed (``eval.seed``)."""
    episodes: int
    """The run's held-out episodes (``eval.episodes``; the default count when the run had none)."""

    def describe(self) -> str:
        return (f"{self.env_id} with the run's settings {self.env_kwargs}, held-out seeds {self.seed}.."
                f"{self.seed + self.episodes - 1} (from {self.checkpoint})")


def run_defaults(path: str | Path) -> RunDefaults:
    """The env, env settings and held-out seeds of the run a checkpoint (or run folder) belongs to."""
    checkpoint = resolve_checkpoint(path)
    config = checkpoint_config(checkpoint)
    return RunDefaults(checkpoint, config.env.id, {**config.env.kwargs, **config.env.eval_kwargs},
                       config.eval.seed, config.eval.episodes or DEFAULT_EPISODES)
