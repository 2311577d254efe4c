"""Trajectory types shared by rollouts, the reward pipeline and the learner.

Token layout. Each :class:`Turn` stores the tokens it *appended* to the model's context:
first the prompt tokens of the new observation (``loss_mask == 0``), then the tokens the policy
generated (``loss_mask == 1``). Concatenating the turns of one *segment* gives exactly the
sequence the model conditioned on; a turn with ``new_context=True`` starts a new segment (the
first turn always does; a windowed-context policy starts one every turn). The learner trains on
segments, so nothing is ever re-tokenised.

Reward fields. The env's raw ``reward`` and ``reward_components`` are never modified. Reward
stages write named per-turn values into ``Turn.fields``. The learner reads:

* ``fields["reward"]`` -- the reward to optimise (defaults to the raw reward);
* ``fields["gamma"]`` -- the per-turn discount (defaults to the learner's ``gamma``);
* ``fields["step_reward"]`` -- an optional process reward with its own advantage term (OPRL).
"""

from __future__ import annotations

import json
from collections import defaultdict
from dataclasses import asdict, dataclass, field
from typing import Any, Iterable, Iterator, Sequence

import numpy as np

from agentrl.core.jsonl import read_jsonl


@dataclass
class Turn:
    """One agent turn: what it saw, what it did, what happened."""

    observation: Any
    """The observation the agent acted on (text, or a dict with a ``text`` entry)."""
    action: str
    """The raw text the agent produced."""
    reward: float = 0.0
    """The env's raw reward for this turn."""
    reward_components: dict[str, float] = field(default_factory=dict)
    info: dict[str, Any] = field(default_factory=dict)
    terminated: bool = False
    truncated: bool = False
    token_ids: list[int] = field(default_factory=list)
    """Tokens appended to the context this turn: prompt tokens, then generated tokens."""
    logprobs: list[float] = field(default_factory=list)
    """Sampling log-probability of each token (0.0 for prompt tokens)."""
    loss_mask: list[int] = field(default_factory=list)
    """1 for tokens the policy generated, 0 for env/prompt tokens."""
    new_context: bool = True
    """True when ``token_ids`` start a new sequence rather than continue the previous turn's."""
    generation_truncated: bool = False
    """The policy hit its per-turn token limit before finishing the action."""
    fields: dict[str, float] = field(default_factory=dict)
    """Named outputs of reward stages (see module docstring)."""
    policy_version: int = 0
    """Version of the weights that sampled this turn (the learner counts its updates)."""

    @property
    def completion_ids(self) -> list[int]:
        return [t for t, m in zip(self.token_ids, self.loss_mask) if m]

    @property
    def prompt_ids(self) -> list[int]:
        return [t for t, m in zip(self.token_ids, self.loss_mask) if not m]

    @property
    def text_observation(self) -> str:
        return observation_text(self.observation)


def observation_text(observation: Any) -> str:
    """The text part of an observation (a plain string, or the ``text`` entry of a dict)."""
    if isinstance(observation, str):
        return observation
    if isinstance(observation, dict) and isinstance(observation.get("text"), str):
        return observation["text"]
    return str(observation)


@dataclass
class Trajectory:
    """One episode."""

    turns: list[Turn] = field(default_factory=list)
    task_id: str = ""
    group_id: str = ""
    """Episodes with the same group id share a task; group baselines compare within it."""
    outcome: float = 0.0
    """Episode-level outcome reward (env ``info['outcome']`` if given, else success as 0/1)."""
    success: bool = False
    context_truncated: bool = False
    """The episode was cut because the policy's context limit was reached."""
    instructions: str = ""
    final_observation: Any = None
    info: dict[str, Any] = field(default_factory=dict)

    @property
    def total_reward(self) -> float:
        return float(sum(t.reward for t in self.turns))

    @property
    def truncated(self) -> bool:
        return self.context_truncated or bool(self.turns and self.turns[-1].truncated)

    @property
    def invalid_actions(self) -> int:
        return sum(1 for t in self.turns if not t.info.get("action_valid", True))

    def field_array(self, name: str, default: float | None = None) -> np.ndarray:
        """Per-turn values of a reward field; ``default`` fills turns that lack it."""
        values = []
        for turn in self.turns:
            if name in turn.fields:
                values.append(turn.fields[name])
            elif name == "reward" and default is None:
                values.append(turn.reward)
            elif default is not None:
                values.append(default)
            else:
                raise KeyError(f"turn has no field {name!r}; fields are {sorted(turn.fields)}")
        return np.asarray(values, dtype=np.float64)

    def segments(self) -> list[list[Turn]]:
        """Runs of turns that form one token sequence each."""
        out: list[list[Turn]] = []
        for turn in self.turns:
            if turn.new_context or not out:
                out.append([])
            out[-1].append(turn)
        return out

    def to_dict(self) -> dict[str, Any]:
        return _jsonable(asdict(self))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "Trajectory":
        data = dict(data)
        data["turns"] = [Turn(**t) for t in data.get("turns", [])]
        return cls(**data)


class TrajectoryBatch(Sequence[Trajectory]):
    """An ordered collection of trajectories with group and metric helpers."""

    def __init__(self, trajectories: Iterable[Trajectory] = ()) -> None:
        self.trajectories = list(trajectories)
        self.metrics: dict[str, float] = {}
        """Metrics recorded by reward stages and the rollout (``stage/name`` keys)."""

    def __len__(self) -> int:
        return len(self.trajectories)

    def __getitem__(self, index):  # type: ignore[override]
        if isinstance(index, slice):
            return TrajectoryBatch(self.trajectories[index])
        return self.trajectories[index]

    def __iter__(self) -> Iterator[Trajectory]:
        return iter(self.trajectories)

    def turns(self) -> Iterator[Turn]:
        for trajectory in self.trajectories:
            yield from trajectory.turns

    @property
    def num_turns(self) -> int:
        return sum(len(t.turns) for t in self.trajectories)

    def groups(self) -> dict[str, list[int]]:
        """Indices of trajectories by group id, in first-seen order."""
        out: dict[str, list[int]] = defaultdict(list)
        for index, trajectory in enumerate(self.trajectories):
            out[trajectory.group_id].append(index)
        return dict(out)

    def informative_groups(self) -> "TrajectoryBatch":
        """The trajectories of groups whose members reached different outcomes (DAPO's dynamic-sampling
        filter). In a group that all succeeded, or all failed, the group-baselined outcome advantage
        is zero for every member: such groups cost a learner pass and teach nothing about the task.
        Metrics are kept."""
        kept = []
        for indices in self.groups().values():
            if len({self.trajectories[i].outcome for i in indices}) > 1:
                kept += [self.trajectories[i] for i in indices]
        out = TrajectoryBatch(kept)
        out.metrics = dict(self.metrics)
        return out

    def summary(self) -> dict[str, float]:
        """Success rate, mean return, mean turns, invalid-action rate and truncation rate."""
        n = len(self.trajectories)
        if n == 0:
            return {"episodes": 0}
        turns = max(self.num_turns, 1)
        return {
            "episodes": n,
            "success_rate": float(np.mean([t.success for t in self.trajectories])),
            "mean_return": float(np.mean([t.total_reward for t in self.trajectories])),
            "mean_outcome": float(np.mean([t.outcome for t in self.trajectories])),
            "mean_turns": float(np.mean([len(t.turns) for t in self.trajectories])),
            "invalid_action_rate": sum(t.invalid_actions for t in self.trajectories) / turns,
            "truncation_rate": float(np.mean([t.truncated for t in self.trajectories])),
        }

    def extend(self, other: Iterable[Trajectory]) -> None:
        self.trajectories.extend(other)

    def save_jsonl(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            for trajectory in self.trajectories:
                handle.write(json.dumps(trajectory.to_dict()) + "\n")

    @classmethod
    def load_jsonl(cls, path: str) -> "TrajectoryBatch":
        return cls(Trajectory.from_dict(record) for _, record in read_jsonl(path))


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value
