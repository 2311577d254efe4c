"""CALM: credit assignment with language models (Pignatelli et al., 2024).

A judge decomposes the task into subgoals (or the env lists them) and says, for each transition
``(observation, action, next observation)``, which subgoals it achieved. The first time in an
episode that a subgoal is achieved, that turn earns ``beta``::

    fields["calm"]   = beta * (number of subgoals newly achieved this episode at this turn)
    fields["reward"] = (fields["reward"] if set, else the raw reward) + fields["calm"]
    fields["calm_judged"] = 1.0 when the judge gave a verdict for the turn, else 0.0

Put CALM *before* a G-RA gate (which gates ``fields["calm"]`` with the env's immediate rewards), so
a failed episode earns no subgoal credit; a pipeline with CALM after the gate does not build.

Verdicts are cached by a hash of (judge model, prompt version, task, subgoals, transition), in
memory and -- with ``cache_dir`` -- in a SQLite file that later runs reuse, so a repeated
transition never calls the judge twice. Judge errors (unreachable, timeouts) and unparseable
replies are counted in ``calm/judge_errors`` and ``calm/unparseable`` and logged; such a turn gets
no CALM reward and ``calm_judged = 0``, never a silent verdict. Errors are not cached (they may be
transient); unparseable replies are (the same prompt would get the same reply).
"""

from __future__ import annotations

import logging
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable

from agentrl.core.trajectory import Trajectory, TrajectoryBatch, observation_text
from agentrl.rewards.base import RewardStage, turn_reward
from agentrl.rewards.cache import JudgmentCache, cache_key
from agentrl.judges import JudgeError, UnparseableReply, make_judge

logger = logging.getLogger(__name__)

SUBGOAL_SOURCES = ("auto", "env", "judge")


@dataclass
class CALMConfig:
    judge: Any = "oracle"
    """A ``Judge`` object, a name (``oracle``, ``hf``, ``openai``) or ``{"type": ..., **config}``."""
    beta: float = 0.1
    """Auxiliary reward per subgoal, paid once per episode at the turn that first achieves it."""
    cache_dir: str | None = None
    """Directory of the persistent verdict cache; ``None`` keeps it in memory for this process."""
    subgoals: str = "auto"
    """Where subgoals come from: ``env`` (``trajectory.info["subgoals"]``), ``judge``
    (``judge.decompose(task)``), or ``auto`` (the env's list when it has one, else the judge)."""
    max_concurrency: int = 1
    """Judge calls in flight at once (threads); raise it for remote endpoints."""
    on_error: str = "count"
    """``count``: count judge failures in metrics and go on; ``raise``: stop at the first one."""

    def __post_init__(self) -> None:
        if self.subgoals not in SUBGOAL_SOURCES:
            raise ValueError(f"subgoals must be one of {SUBGOAL_SOURCES}, got {self.subgoals!r}")
        if self.on_error not in ("count", "raise"):
            raise ValueError(f"on_error must be 'count' or 'raise', got {self.on_error!r}")
        if self.max_concurrency < 1:
            raise ValueError(f"max_concurrency must be >= 1, got {self.max_concurrency}")


@dataclass
class _Pending:
    """One transition to judge."""

    trajectory: int
    turn: int
    key: str | None
    call: Callable[[], dict[str, bool]]


class CALMCredit(RewardStage):
    """Subgoal credit from a judge (see module docstring)."""

    Config = CALMConfig
    config: CALMConfig
    metric_prefix = "calm"
    adds_to_reward = "calm"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.judge = make_judge(self.config.judge)
        self.cache = JudgmentCache(self.config.cache_dir)
        self.last_errors: list[str] = []
        """Messages of the judge failures in the latest batch (for diagnostics)."""

    def _judge_id(self) -> str | None:
        cache_id = getattr(self.judge, "cache_id", None)
        return cache_id() if callable(cache_id) else None

    def __call__(self, batch: TrajectoryBatch) -> TrajectoryBatch:
        stats: Counter = Counter()
        self.last_errors = []
        judge_id = self._judge_id()
        subgoals = [self._subgoals(t, judge_id, stats) for t in batch]
        verdicts, pending = self._lookup(batch, subgoals, judge_id, stats)
        verdicts.update(self._run(pending, stats))
        self.cache.flush()
        for index, trajectory in enumerate(batch):
            self._assign(
                trajectory,
                subgoals[index] or [],
                [verdicts.get((index, t)) for t in range(len(trajectory.turns))],
                stats,
            )
        if self.last_errors:
            logger.warning(
                "CALM: %d judge failure(s) this batch; first: %s", len(self.last_errors), self.last_errors[0]
            )
        turns = max(batch.num_turns, 1)
        self.record(
            batch,
            {
                "judge_calls": stats["judge_calls"],
                "cache_hits": stats["cache_hits"],
                "judge_errors": stats["judge_errors"],
                "unparseable": stats["unparseable"],
                "decompose_calls": stats["decompose_calls"],
                "decompose_errors": stats["decompose_errors"],
                "judged_turns": stats["judged_turns"],
                "achieved": stats["achieved"],
                "reward_per_turn": stats["reward"] / turns,
            },
        )
        return batch

    # ------------------------------------------------------------------------ subgoals
    def _subgoals(self, trajectory: Trajectory, judge_id: str | None, stats: Counter) -> list[str] | None:
        env_goals = list(trajectory.info.get("subgoals") or [])
        source = self.config.subgoals
        if source == "env" or (source == "auto" and env_goals):
            if not env_goals:
                self._fail(
                    stats,
                    "decompose_errors",
                    JudgeError("subgoals='env' but the trajectory has no env subgoals"),
                )
                return None
            return env_goals
        task = trajectory.instructions or trajectory.task_id
        key = cache_key(judge_id, "decompose", task) if judge_id else None
        cached = self.cache.get(key) if key else None
        if cached is None:
            stats["decompose_calls"] += 1
            try:
                cached = {"subgoals": list(self.judge.decompose(task))}
            except UnparseableReply as exc:
                cached = {"unparseable": exc.reply}
            except JudgeError as exc:  # transient: not cached
                self._fail(stats, "decompose_errors", exc)
                return None
            if key:
                self.cache.put(key, cached)
        else:
            stats["cache_hits"] += 1
        if "unparseable" in cached:
            self._fail(
                stats,
                "decompose_errors",
                UnparseableReply("the judge's subgoal list could not be read", cached["unparseable"]),
            )
            return None
        return list(cached["subgoals"])

    # ------------------------------------------------------------------------ verdicts
    def _lookup(self, batch: TrajectoryBatch, subgoals, judge_id, stats: Counter):
        """Cached verdicts by (trajectory, turn), and the transitions still to judge."""
        verdicts: dict[tuple[int, int], Any] = {}
        pending: list[_Pending] = []
        for index, trajectory in enumerate(batch):
            goals = subgoals[index]
            if not goals:
                continue
            task = trajectory.instructions or trajectory.task_id
            for t, turn in enumerate(trajectory.turns):
                next_obs = (
                    trajectory.turns[t + 1].observation
                    if t + 1 < len(trajectory.turns)
                    else trajectory.final_observation
                )
                key = None
                if judge_id is not None:
                    key = cache_key(
                        judge_id,
                        task,
                        goals,
                        observation_text(turn.observation),
                        turn.action,
                        observation_text(next_obs),
                    )
                    cached = self.cache.get(key)
                    if cached is not None:
                        stats["cache_hits"] += 1
                        verdicts[(index, t)] = cached
                        continue
                call = self._caller(turn.observation, turn.action, next_obs, goals, task, turn.info)
                pending.append(_Pending(index, t, key, call))
        return verdicts, pending

    def _caller(self, observation, action, next_observation, goals, task, info):
        def call() -> dict[str, bool]:
            return self.judge.judge(observation, action, next_observation, goals, task=task, info=info)

        return call

    def _run(self, pending: list[_Pending], stats: Counter) -> dict[tuple[int, int], Any]:
        """Judge each distinct transition once; repeats within the batch share the verdict."""
        unique: dict[str, _Pending] = {}
        jobs: list[_Pending] = []
        for item in pending:
            if item.key is None or item.key not in unique:
                jobs.append(item)
                if item.key is not None:
                    unique[item.key] = item
        workers = self.config.max_concurrency
        if workers > 1 and len(jobs) > 1:
            with ThreadPoolExecutor(max_workers=workers) as pool:
                outcomes = list(pool.map(self._attempt, jobs))
        else:
            outcomes = [self._attempt(job) for job in jobs]
        stats["judge_calls"] += len(jobs)
        by_key: dict[str, Any] = {}
        results: dict[tuple[int, int], Any] = {}
        for job, outcome in zip(jobs, outcomes):
            if isinstance(outcome, JudgeError) and not isinstance(outcome, UnparseableReply):
                self._fail(stats, "judge_errors", outcome)
                outcome = None
            elif isinstance(outcome, UnparseableReply):
                outcome = {"unparseable": outcome.reply}
            if job.key is not None and outcome is not None:
                self.cache.put(job.key, outcome)
                by_key[job.key] = outcome
            results[(job.trajectory, job.turn)] = outcome
        for item in pending:
            if (item.trajectory, item.turn) not in results:  # a repeat of a transition judged above
                shared = by_key.get(item.key) if item.key else None
                stats["cache_hits"] += shared is not None
                results[(item.trajectory, item.turn)] = shared
        return results

    @staticmethod
    def _attempt(job: _Pending) -> Any:
        try:
            return {"achieved": job.call()}
        except JudgeError as exc:
            return exc

    def _fail(self, stats: Counter, counter: str, exc: Exception) -> None:
        if self.config.on_error == "raise":
            raise exc
        stats[counter] += 1
        self.last_errors.append(f"{type(exc).__name__}: {exc}")

    # ------------------------------------------------------------------------ rewards
    def _assign(self, trajectory: Trajectory, goals: list[str], verdicts: list[Any], stats: Counter) -> None:
        done: set[str] = set()
        beta = self.config.beta
        for turn, verdict in zip(trajectory.turns, verdicts):
            achieved = verdict.get("achieved") if isinstance(verdict, dict) else None
            if isinstance(verdict, dict) and "unparseable" in verdict:
                if self.config.on_error == "raise":
                    raise UnparseableReply("the judge's reply could not be read", verdict["unparseable"])
                stats["unparseable"] += 1
            new = [g for g in goals if achieved and achieved.get(g) and g not in done]
            done.update(new)
            calm = beta * len(new)
            turn.fields["calm"] = calm
            turn.fields["calm_judged"] = 1.0 if achieved is not None else 0.0
            turn.fields["reward"] = turn_reward(turn) + calm
            stats["judged_turns"] += achieved is not None
            stats["achieved"] += len(new)
            stats["reward"] += calm

    def close(self) -> None:
        self.cache.close()
        closer = getattr(self.judge, "close", None)
        if callable(closer):
            closer()
