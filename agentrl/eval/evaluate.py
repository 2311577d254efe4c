"""Evaluate a policy on an environment over fixed seeds."""

from __future__ import annotations

from typing import Any

from agentrl.core.policy import Policy
from agentrl.core.registry import make
from agentrl.core.rollout import grouped_specs, run_episodes


def evaluate(
    env_id: str,
    policy: Policy | str,
    *,
    episodes: int = 50,
    seed: int = 10_000,
    num_envs: int = 8,
    env_kwargs: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Play ``episodes`` episodes (seeds ``seed .. seed+episodes-1``) and summarise them."""
    env_kwargs = dict(env_kwargs or {})
    envs = [make(env_id, **env_kwargs) for _ in range(max(1, min(num_envs, episodes)))]
    try:
        if isinstance(policy, str):
            from agentrl.policies.factory import make_policy

            policy_name = policy
            policy = make_policy(policy, envs[0])
        else:
            policy_name = type(policy).__name__
        batch = run_episodes(envs, policy, grouped_specs(range(seed, seed + episodes), 1))
    finally:
        for env in envs:
            env.close()
    return {
        "env": env_id,
        "policy": policy_name,
        "env_kwargs": env_kwargs,
        "seeds": [seed, seed + episodes - 1],
        "summary": batch.summary(),
        "episodes": [
            {"task_id": t.task_id, "success": t.success, "return": t.total_reward, "turns": len(t.turns)}
            for t in batch
        ],
    }
