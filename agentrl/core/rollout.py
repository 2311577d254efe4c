"""The rollout loop: step many environments at once with one batched policy call per turn."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import gymnasium as gym

from agentrl.core.policy import ActionOutput, Policy, PolicyInput
from agentrl.core.trajectory import Trajectory, TrajectoryBatch, Turn


@dataclass
class EpisodeSpec:
    """Which task to play: the reset seed and options, and the group it belongs to."""

    seed: int | None = None
    group_id: str = ""
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Slot:
    env: gym.Env
    spec: EpisodeSpec | None = None
    key: int = 0
    observation: Any = None
    info: dict[str, Any] = field(default_factory=dict)
    trajectory: Trajectory | None = None


def grouped_specs(seeds: Sequence[int], group_size: int, options: dict[str, Any] | None = None) -> list[EpisodeSpec]:
    """``group_size`` episodes of each seed, sharing a group id (for group baselines)."""
    return [
        EpisodeSpec(seed=seed, group_id=f"seed-{seed}", options=dict(options or {}))
        for seed in seeds
        for _ in range(group_size)
    ]


def run_episodes(
    envs: Sequence[gym.Env],
    policy: Policy,
    specs: Sequence[EpisodeSpec],
    *,
    on_episode: Callable[[Trajectory], None] | None = None,
) -> TrajectoryBatch:
    """Play every spec to the end, keeping up to ``len(envs)`` episodes live at once.

    Each turn makes one batched ``policy.act`` call over all live episodes. Trajectories are
    returned in the order of ``specs``.
    """
    if not envs:
        raise ValueError("run_episodes needs at least one env")
    pending = list(enumerate(specs))[::-1]
    results: dict[int, Trajectory] = {}
    slots = [_Slot(env) for env in envs]
    for slot in slots:
        _start_next(slot, pending)
    while any(slot.spec is not None for slot in slots):
        live = [slot for slot in slots if slot.spec is not None]
        outputs = policy.act([_policy_input(slot) for slot in live])
        if len(outputs) != len(live):
            raise RuntimeError(f"policy returned {len(outputs)} actions for {len(live)} episodes")
        for slot, output in zip(live, outputs):
            finished = _advance(slot, output)
            if finished is not None:
                results[slot.key] = finished
                if on_episode is not None:
                    on_episode(finished)
                _start_next(slot, pending)
    return TrajectoryBatch(results[i] for i in range(len(specs)))


# --------------------------------------------------------------- trajectory assembly
# Public so that other rollout engines (Ray workers, self-play) build trajectories the same way.


def env_context(env: gym.Env) -> tuple[str, list[str], str | None]:
    """``(instructions, subgoal names, env id)`` of an env right after ``reset``."""
    unwrapped = env.unwrapped
    instructions = unwrapped.instructions() if hasattr(unwrapped, "instructions") else ""
    subgoals = list(unwrapped.subgoals()) if hasattr(unwrapped, "subgoals") else []
    return instructions, subgoals, getattr(env.spec, "id", None)


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
        )
    )
    return bool(terminated or truncated)


def finish_trajectory(trajectory: Trajectory, final_observation: Any, info: dict[str, Any]) -> Trajectory:
    trajectory.success = bool(info.get("success", False))
    trajectory.outcome = float(info.get("outcome", float(trajectory.success)))
    trajectory.final_observation = final_observation
    return trajectory


# ----------------------------------------------------------------- the in-process loop
def _start_next(slot: _Slot, pending: list[tuple[int, EpisodeSpec]]) -> None:
    if not pending:
        slot.spec = None
        return
    slot.key, slot.spec = pending.pop()
    slot.observation, slot.info = slot.env.reset(seed=slot.spec.seed, options=dict(slot.spec.options) or None)
    slot.trajectory = new_trajectory(slot.spec, slot.info, *env_context(slot.env))


def _policy_input(slot: _Slot) -> PolicyInput:
    assert slot.trajectory is not None
    return policy_input(slot.trajectory, slot.observation, slot.info, slot.key)


def _advance(slot: _Slot, output: ActionOutput) -> Trajectory | None:
    trajectory = slot.trajectory
    assert trajectory is not None
    if output.context_exhausted:
        trajectory.context_truncated = True
        return _finish(slot)
    stepped = slot.env.step(output.text)
    done = record_turn(trajectory, slot.observation, output, stepped)
    slot.observation, slot.info = stepped[0], stepped[4]
    return _finish(slot) if done else None


def _finish(slot: _Slot) -> Trajectory:
    assert slot.trajectory is not None
    trajectory, slot.trajectory = slot.trajectory, None
    return finish_trajectory(trajectory, slot.observation, slot.info)
