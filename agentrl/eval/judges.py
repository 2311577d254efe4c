"""How good is a CALM judge? Score its subgoal verdicts against the env's own checks.

A :class:`JudgedTransition` is one recorded step -- observation, action, next observation, the
task's subgoals and the oracle's verdicts (the env's ``info["subgoals"]``). :func:`score_judge` asks
any :class:`~agentrl.judges.Judge` about every transition and counts, over all (transition, subgoal)
pairs, true and false positives and negatives of "achieved": precision, recall and F1, overall and
per subgoal. Failures to answer (errors, unreadable replies) are counted apart, never as "no".

:func:`record_transitions` plays an env with a policy and keeps every step with its oracle labels.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

from agentrl.core.policy import Policy
from agentrl.core.trajectory import TrajectoryBatch, observation_text
from agentrl.judges import Judge, JudgeError
from agentrl.rollout import EpisodeSpec, run_episodes


@dataclass
class JudgedTransition:
    task: str
    subgoals: list[str]
    observation: str
    action: str
    next_observation: str
    achieved: dict[str, bool]
    """The oracle's verdicts (the env's own subgoal checks)."""
    episode: str = ""


@dataclass
class JudgeScore:
    precision: float
    recall: float
    f1: float
    counts: dict[str, int]
    """``tp``, ``fp``, ``fn``, ``tn`` over (transition, subgoal) pairs, and ``failures`` (transitions)."""
    per_subgoal: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def record_transitions(envs: Sequence[Any], policy: Policy, seeds: Sequence[int]) -> list[JudgedTransition]:
    """Play one episode per seed and keep every step with the oracle's subgoal verdicts."""
    batch: TrajectoryBatch = run_episodes(envs, policy, [EpisodeSpec(seed=s, group_id=f"seed-{s}") for s in seeds])
    out = []
    for trajectory in batch:
        goals = list(trajectory.info.get("subgoals") or [])
        if not goals:
            continue
        observations = [turn.observation for turn in trajectory.turns] + [trajectory.final_observation]
        for index, turn in enumerate(trajectory.turns):
            verdicts = turn.info.get("subgoals") or {}
            out.append(JudgedTransition(
                task=trajectory.instructions or trajectory.task_id, subgoals=goals,
                observation=observation_text(observations[index]), action=turn.action,
                next_observation=observation_text(observations[index + 1]),
                achieved={g: bool(verdicts.get(g, False)) for g in goals}, episode=trajectory.task_id,
            ))
    return out


def _f1(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def score_judge(judge: Judge, transitions: Sequence[JudgedTransition]) -> JudgeScore:
    """Precision, recall and F1 of ``judge``'s "achieved" verdicts against the oracle's."""
    totals: Counter = Counter()
    by_goal: dict[str, Counter] = {}
    for item in transitions:
        try:
            # the env's checks go in ``info`` as in training: the oracle reads them, language-model
            # judges see the text alone
            verdict = judge.judge(item.observation, item.action, item.next_observation, item.subgoals,
                                  task=item.task, info={"subgoals": item.achieved})
        except JudgeError:
            totals["failures"] += 1
            continue
        for goal in item.subgoals:
            truth, said = item.achieved.get(goal, False), bool(verdict.get(goal, False))
            key = ("tp" if said else "fn") if truth else ("fp" if said else "tn")
            totals[key] += 1
            by_goal.setdefault(goal, Counter())[key] += 1
    precision, recall, f1 = _f1(totals["tp"], totals["fp"], totals["fn"])
    per_goal = {}
    for goal, counts in by_goal.items():
        p, r, f = _f1(counts["tp"], counts["fp"], counts["fn"])
        per_goal[goal] = {"precision": p, "recall": r, "f1": f, "positives": counts["tp"] + counts["fn"]}
    counts = {k: int(totals[k]) for k in ("tp", "fp", "fn", "tn", "failures")}
    return JudgeScore(precision, recall, f1, counts, per_goal)
