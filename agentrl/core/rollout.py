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


def _start_next(slot: _Slot, pending: list[tuple[int, EpisodeSpec]]) -> None:
    if not pending:
        slot.spec = None
        return
    slot.key, slot.spec = pending.pop()
    options = dict(slot.spec.options)
    slot.observation, slot.info = slot.env.reset(seed=slot.spec.seed, options=options or None)
    unwrapped = slot.env.unwrapped
    instructions = unwrapped.instructions() if hasattr(unwrapped, "instructions") else ""
    task_id = str(slot.info.get("task_id", slot.spec.group_id))
    slot.trajectory = Trajectory(
        task_id=task_id,
        group_id=slot.spec.group_id or task_id,
        instructions=instructions,
        info={
            "seed": slot.spec.seed,
            "env_id": getattr(slot.env.spec, "id", None),
            "subgoals": list(unwrapped.subgoals()) if hasattr(unwrapped, "subgoals") else [],
        },
    )


def _policy_input(slot: _Slot) -> PolicyInput:
    assert slot.trajectory is not None
    return PolicyInput(
        observation=slot.observation,
        instructions=slot.trajectory.instructions,
        history=slot.trajectory.turns,
        info=slot.info,
        episode_key=slot.key,
    )


def _advance(slot: _Slot, output: ActionOutput) -> Trajectory | None:
    trajectory = slot.trajectory
    assert trajectory is not None
    if output.context_exhausted:
        trajectory.context_truncated = True
        return _finish(slot)
    observation, reward, terminated, truncated, info = slot.env.step(output.text)
    trajectory.turns.append(
        Turn(
            observation=slot.observation,
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
    slot.observation, slot.info = observation, info
    if terminated or truncated:
        return _finish(slot)
    return None


def _finish(slot: _Slot) -> Trajectory:
    trajectory = slot.trajectory
    assert trajectory is not None
    trajectory.success = bool(slot.info.get("success", False))
    trajectory.outcome = float(slot.info.get("outcome", float(trajectory.success)))
    trajectory.final_observation = slot.observation
    slot.trajectory = None
    return trajectory
