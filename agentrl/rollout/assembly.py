"""Trajectory assembly: how every rollout backend turns env replies and policy outputs into a
:class:`~agentrl.core.trajectory.Trajectory`, so that all backends build them the same way."""

from __future__ import annotations

from typing import Any

import gymnasium as gym

from agentrl.core.env import TextEnv
from agentrl.core.policy import ActionOutput, PolicyInput
from agentrl.core.trajectory import Trajectory, Turn
from agentrl.rollout.spec import EpisodeSpec


def env_context(env: gym.Env) -> tuple[str, list[str], str | None]:
    """``(instructions, subgoal names, env id)`` of an env right after ``reset``.

    A plain Gymnasium env (not a :class:`TextEnv`) has no instructions or subgoals.
    """
    base = env.unwrapped
    if isinstance(base, TextEnv):
        return base.instructions(), list(base.subgoals()), env.spec.id if env.spec else None
    return "", [], env.spec.id if env.spec else None


def new_trajectory(spec: EpisodeSpec, info: dict[str, Any], instructions: str, subgoals: list[str],
                   env_id: str | None) -> Trajectory:
    task_id = str(info.get("task_id", spec.group_id))
    return Trajectory(
        task_id=task_id,
        group_id=spec.group_id or task_id,
        instructions=instructions,
        info={"seed": spec.seed, "env_id": env_id, "subgoals": subgoals},
    )


def policy_input(trajectory: Trajectory, observation: Any, info: dict[str, Any], key: int) -> PolicyInput:
    return PolicyInput(observation=observation, instructions=trajectory.instructions,
                       history=trajectory.turns, info=info, episode_key=key)


def record_turn(trajectory: Trajectory, observation: Any, output: ActionOutput, stepped: tuple) -> bool:
    """Append the turn played from ``observation``; True when the episode ended."""
    _, reward, terminated, truncated, info = stepped
    trajectory.turns.append(
        Turn(
            observation=observation,
            action=output.text,
            reward=float(reward),
            reward_components=dict(info.get("reward_components", {})),
            info=info,
            terminated=bool(terminated),
            truncated=bool(truncated),
            token_ids=list(output.token_ids),
            logprobs=list(output.logprobs),
            loss_mask=list(output.loss_mask),
            new_context=output.new_context,
            generation_truncated=output.generation_truncated,
            policy_version=output.policy_version,
        )
    )
    return bool(terminated or truncated)


def finish_trajectory(trajectory: Trajectory, final_observation: Any, info: dict[str, Any]) -> Trajectory:
    trajectory.success = bool(info.get("success", False))
    trajectory.outcome = float(info.get("outcome", float(trajectory.success)))
    trajectory.final_observation = final_observation
    return trajectory
