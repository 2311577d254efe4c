"""ADS: Automatic Discount Scheduling (Liu et al., ICLR 2024, "Imitation Learning from Observation
with Automatic Discount Scheduling"; official code: github.com/dwjshift/IL_ADS, ``IL/modules/ads.py``).

The discount is ``gamma = alpha ** (1 / p)`` with ``alpha = 0.2``: rewards ``p`` turns away weigh
``alpha``. The progress horizon ``p`` starts at ``int(0.2 * H)`` (``H`` the episode horizon) and grows
one turn at a time -- at most ``max_increase`` (5) per update -- while the agent has mastered the
first ``p`` steps: its score there reaches ``threshold`` (0.9) of the reference's.

As in the official code, mastery is measured on the agent's *evaluation* episodes (the trainer calls
:meth:`AutoDiscountSchedule.observe_evaluation` after each held-out evaluation; the official trainer
updates ADS in ``eval()`` on greedy episodes), against *expert demonstrations*:

* each agent episode's first ``p`` observations are matched to the first ``p`` observations of a
  demonstration of the same task -- every agent observation to its nearest demonstration
  observation (``cost[:p, :p].argmin(1)``) -- and its score is the length of the longest strictly
  increasing subsequence of those indices; the agent's score is the 90th percentile over episodes
  and demonstrations;
* the reference at ``p`` is the median of the same score between pairs of demonstrations of a task
  (``cost[:p, :p].min(1)``, as ``init_demos``); a task with one demonstration is matched against
  itself (the official code needs two or more of its single task; agentrl's tasks differ per seed,
  so the env's expert gives one demonstration per task);
* the horizon grows while ``agent >= int(threshold * reference)``.

``demonstrations`` is a list of observation-text lists (every task), ``{task_id: [demo, ...]}``, or
``"expert"``: the trainer's :class:`~agentrl.rewards.base.TrainingContext` supplies the env expert's
episodes on the evaluation tasks at ``setup``.

Without demonstrations (``progress_source`` ``progress`` or ``subgoals``) the measured batch's
successful episodes are the reference -- the median of their progress within ``p`` turns (the env's
``info["progress"]`` or the fraction of subgoals) -- and they are kept out of the agent pool, whose
90th percentile must reach ``threshold`` of it. With no success, or a reference of 0 (no progress to
compare with), the horizon does not move.

Every turn gets ``fields["gamma"]`` (the learner's per-turn discount). The horizon is state:
``state_dict()`` / ``load_state_dict()`` resume it exactly.
"""

from __future__ import annotations

import math
from bisect import bisect_left
from dataclasses import dataclass
from functools import partial
from typing import Any, Mapping, Sequence

import numpy as np

from agentrl.core.trajectory import Trajectory, TrajectoryBatch, observation_text
from agentrl.rewards.base import RewardStage, TrainingContext

PROGRESS_SOURCES = ("auto", "demonstrations", "progress", "subgoals")
DISTANCES = ("hamming", "exact")
MEASURED_ON = ("evaluation", "training")


@dataclass
class ADSConfig:
    horizon: int | None = None
    """Episode horizon ``H`` in turns (the env's ``max_turns``); ``None`` takes the longest
    trajectory of the first batch."""
    alpha: float = 0.2
    """``gamma = alpha ** (1 / p)``; ``alpha = 1`` disables discounting."""
    start_fraction: float = 0.2
    """The horizon starts at ``int(start_fraction * H)`` (at least 1)."""
    max_increase: int = 5
    """Most the horizon grows per update."""
    threshold: float = 0.9
    """Fraction of the reference progress that counts as mastered."""
    demonstrations: Any = None
    """Expert demonstrations: lists of observation texts (initial observation first), either one list
    of demonstrations for every task, ``{task_id: [demo, ...]}``, or ``"expert"`` (the env's expert on
    the evaluation tasks, supplied by the trainer)."""
    distance: str = "hamming"
    """Text distance for matching states: ``hamming`` (differing characters plus the length
    difference; suits grid renderings) or ``exact`` (0 if equal, else 1)."""
    progress_source: str = "auto"
    """``demonstrations``, ``progress``, ``subgoals``, or ``auto`` (demonstrations when given, else
    the env's progress when turns report it, else subgoals)."""
    reference_percentile: float = 50.0
    """Percentile of the reference scores used as the reference."""
    agent_percentile: float = 90.0
    """Percentile of the agent's scores used as its score."""
    update: bool = True
    """False freezes the horizon (evaluation)."""
    measure_on: str = "evaluation"
    """``evaluation``: the horizon moves after each held-out evaluation (the paper); ``training``: after
    each training batch (for pipelines run without a trainer)."""

    def __post_init__(self) -> None:
        if not 0.0 < self.alpha <= 1.0:
            raise ValueError(f"alpha must be in (0, 1], got {self.alpha}")
        if self.progress_source not in PROGRESS_SOURCES:
            raise ValueError(
                f"progress_source must be one of {PROGRESS_SOURCES}, got {self.progress_source!r}"
            )
        if self.distance not in DISTANCES:
            raise ValueError(f"distance must be one of {DISTANCES}, got {self.distance!r}")
        if self.horizon is not None and self.horizon < 1:
            raise ValueError(f"horizon must be >= 1, got {self.horizon}")
        if self.progress_source == "demonstrations" and not self.demonstrations:
            raise ValueError("progress_source='demonstrations' needs demonstrations=")
        if self.measure_on not in MEASURED_ON:
            raise ValueError(f"measure_on must be one of {MEASURED_ON}, got {self.measure_on!r}")
        if isinstance(self.demonstrations, str) and self.demonstrations != "expert":
            raise ValueError(f"demonstrations must be lists of observation texts, a dict by task, or 'expert'; "
                             f"got {self.demonstrations!r}")


def discount_for(horizon: int, alpha: float = 0.2) -> float:
    """``alpha ** (1 / horizon)``."""
    return math.exp(math.log(alpha) / horizon)


def longest_increasing_subsequence(values: Sequence[int]) -> int:
    """Length of the longest strictly increasing subsequence (patience sorting, O(n log n))."""
    tails: list[int] = []
    for value in values:
        i = bisect_left(tails, value)
        if i == len(tails):
            tails.append(value)
        else:
            tails[i] = value
    return len(tails)


def _encode(states: Sequence[str], width: int) -> np.ndarray:
    out = np.zeros((len(states), width), dtype=np.int32)
    for i, text in enumerate(states):
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.int32)[:width]
        out[i, : len(codes)] = codes
    return out


def distance_matrix(agent: Sequence[str], expert: Sequence[str], kind: str = "hamming") -> np.ndarray:
    """``D[i, j]`` = distance between agent state ``i`` and expert state ``j``."""
    if kind == "exact":
        return np.array([[0.0 if a == e else 1.0 for e in expert] for a in agent])
    lengths_a = np.array([len(s) for s in agent])
    lengths_e = np.array([len(s) for s in expert])
    width = int(max(lengths_a.max(initial=0), lengths_e.max(initial=0)))
    a, e = _encode(agent, width), _encode(expert, width)
    overlap = np.minimum(lengths_a[:, None], lengths_e[None, :])
    positions = np.arange(width)
    inside = positions[None, None, :] < overlap[:, :, None]
    differing = ((a[:, None, :] != e[None, :, :]) & inside).sum(-1)
    return (differing + np.abs(lengths_a[:, None] - lengths_e[None, :])).astype(np.float64)


def _first_steps(states: Sequence[str], p: int) -> list[str]:
    """The first ``p`` observations (initial first), padded with the last one when the episode ended
    sooner (the official code's episodes all last the full horizon)."""
    first = list(states[:p]) or [""]
    return first + [first[-1]] * (p - len(first))


def alignment_score(agent: Sequence[str], expert: Sequence[str], p: int, kind: str = "hamming") -> int:
    """ADS progress of ``agent`` along ``expert`` over the first ``p`` observations: the LIS of each
    agent observation's nearest expert observation (``cost[:p, :p].argmin(1)``).

    Both are observation sequences starting with the initial observation.
    """
    costs = distance_matrix(_first_steps(agent, p), _first_steps(expert, p), kind)
    return longest_increasing_subsequence(costs.argmin(axis=1).tolist())


def trajectory_states(trajectory: Trajectory) -> list[str]:
    """Observation texts of an episode, initial first, final last."""
    states = [observation_text(turn.observation) for turn in trajectory.turns]
    if trajectory.final_observation is not None:
        states.append(observation_text(trajectory.final_observation))
    return states


def progress_curve(trajectory: Trajectory, source: str) -> list[float] | None:
    """Progress reached by the end of each turn (a running maximum); ``None`` without a signal.

    ``progress``: the env's ``info["progress"]``; ``subgoals``: the fraction of
    ``trajectory.info["subgoals"]`` achieved so far (from each step's ``info["subgoals"]``).
    """
    curve: list[float] = []
    best = 0.0
    if source == "progress":
        seen = False
        for turn in trajectory.turns:
            value = turn.info.get("progress")
            if value is not None:
                seen = True
                best = value if value > best else best
            curve.append(best)
        return curve if seen else None
    goals = set(trajectory.info.get("subgoals") or [])
    if not goals:
        return None
    reached: set[str] = set()
    for turn in trajectory.turns:
        reached.update(g for g, ok in (turn.info.get("subgoals") or {}).items() if ok and g in goals)
        curve.append(len(reached) / len(goals))
    return curve


def percentile(values: Sequence[float], q: float) -> float:
    """``numpy.percentile`` with linear interpolation, without numpy's per-call overhead."""
    ordered = sorted(values)
    position = (len(ordered) - 1) * q / 100.0
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


class AutoDiscountSchedule(RewardStage):
    """Per-turn discount from an adaptive progress horizon (see module docstring)."""

    Config = ADSConfig
    config: ADSConfig
    metric_prefix = "ads"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.horizon: int | None = self.config.horizon
        self.progress: int | None = self._start(self.horizon) if self.horizon else None
        self.updates = 0
        self._reference_cache: dict[tuple[str, int], list[int]] = {}
        self.demonstrations = None if self.config.demonstrations == "expert" else self.config.demonstrations

    def _start(self, horizon: int) -> int:
        return max(1, int(self.config.start_fraction * horizon))

    @property
    def gamma(self) -> float:
        return discount_for(self.progress or 1, self.config.alpha)

    def __call__(self, batch: TrajectoryBatch) -> TrajectoryBatch:
        self._ensure_horizon(batch)
        metrics: dict[str, float] = {}
        before = self.progress
        if self.config.update and self.config.measure_on == "training" and len(batch):
            metrics = self._update(batch)
        gamma = self.gamma
        for turn in batch.turns():
            turn.fields["gamma"] = gamma
        self.record(
            batch, {"horizon": self.progress, "gamma": gamma, "increase": self.progress - before, **metrics}
        )
        return batch

    def observe_evaluation(self, batch: TrajectoryBatch) -> None:
        """Measure mastery on held-out evaluation episodes and move the horizon (the paper's schedule)."""
        if not (self.config.update and self.config.measure_on == "evaluation" and len(batch)):
            return
        self._ensure_horizon(batch)
        before = self.progress
        metrics = self._update(batch)
        self.record(batch, {"horizon": self.progress, "gamma": self.gamma, "increase": self.progress - before,
                            **metrics})

    def setup(self, context: TrainingContext) -> None:
        """With ``demonstrations="expert"``, take the env expert's episodes on the evaluation tasks."""
        if self.config.demonstrations != "expert":
            return
        if context.expert_demonstrations is None:
            raise ValueError("AutoDiscountSchedule(demonstrations='expert') needs an env with an expert policy")
        demos: dict[str, list[list[str]]] = {}
        for trajectory in context.expert_demonstrations():
            demos.setdefault(trajectory.task_id, []).append(trajectory_states(trajectory))
        self.demonstrations = demos
        self._reference_cache.clear()

    def _ensure_horizon(self, batch: TrajectoryBatch) -> None:
        if self.horizon is None:
            self.horizon = max((len(t.turns) for t in batch), default=1) or 1
            self.progress = self._start(self.horizon)

    def _source(self, batch: TrajectoryBatch) -> str:
        source = self.config.progress_source
        if source != "auto":
            return source
        if self.config.demonstrations:
            return "demonstrations"
        return "progress" if any("progress" in turn.info for turn in batch.turns()) else "subgoals"

    def _update(self, batch: TrajectoryBatch) -> dict[str, float]:
        self.updates += 1
        if self.progress >= self.horizon:  # already at H: nothing to measure
            return {}
        source = self._source(batch)
        if source == "demonstrations" and not self.demonstrations:
            return {"no_reference": 1.0}  # "expert" demonstrations not supplied yet (no setup)
        if source == "demonstrations":  # each trajectory's states and demonstrations are read once
            measure = partial(self._demo_scores, self._demo_episodes(batch))
        else:  # each trajectory's progress curve is read once; each check is then a lookup
            curves = [(c, t.success) for t in batch if (c := progress_curve(t, source)) is not None]
            measure = partial(self._progress_scores, curves)
        metrics: dict[str, float] = {}
        for _ in range(self.config.max_increase):
            if self.progress >= self.horizon:
                break
            scores = measure()
            if scores is None:
                metrics["no_reference"] = 1.0
                break
            agent, reference = scores
            metrics.update(agent_score=agent, reference_score=reference)
            bar = (
                int(self.config.threshold * reference)
                if source == "demonstrations"
                else self.config.threshold * reference
            )
            if agent < bar:
                break
            self.progress += 1
        return metrics

    # ------------------------------------------------------------------ progress measures
    def _percentiles(self, agent: list[float], reference: list[float]) -> tuple[float, float] | None:
        if not agent or not reference:
            return None
        return percentile(agent, self.config.agent_percentile), percentile(
            reference, self.config.reference_percentile
        )

    def _progress_scores(self, curves: list[tuple[list[float], bool]]):
        """Successes are the reference and stay out of the agent pool; no reference, or one of 0
        (nothing to measure mastery against), gives no scores."""
        index = self.progress - 1
        agent, reference = [], []
        for curve, success in curves:
            value = (curve[index] if index < len(curve) else curve[-1]) if curve else 0.0
            (reference if success else agent).append(value)
        scores = self._percentiles(agent, reference)
        if scores is None or scores[1] <= 0.0:
            return None
        return scores

    def _demos_for(self, trajectory: Trajectory) -> tuple[str, list[list[str]]]:
        demos = self.demonstrations
        if isinstance(demos, Mapping):
            return trajectory.task_id, list(demos.get(trajectory.task_id, []))
        return "*", list(demos or [])

    def _reference(self, key: str, demos: list[list[str]], p: int) -> list[int]:
        if (key, p) not in self._reference_cache:
            kind = self.config.distance
            if len(demos) == 1:
                scores = [alignment_score(demos[0], demos[0], p, kind)]
            else:
                scores = [
                    alignment_score(a, b, p, kind)
                    for i, a in enumerate(demos)
                    for j, b in enumerate(demos)
                    if i != j
                ]
            self._reference_cache[(key, p)] = scores
        return self._reference_cache[(key, p)]

    def _demo_episodes(self, batch: TrajectoryBatch) -> list[tuple[str, list[list[str]], list[str]]]:
        """``(demonstrations key, demonstrations, states)`` of each trajectory that has demonstrations."""
        episodes = []
        for trajectory in batch:
            key, demos = self._demos_for(trajectory)
            if demos and trajectory.turns:
                episodes.append((key, demos, trajectory_states(trajectory)))
        return episodes

    def _demo_scores(self, episodes: list[tuple[str, list[list[str]], list[str]]]):
        p, kind = self.progress, self.config.distance
        agent: list[float] = []
        reference: list[float] = []
        seen: set[str] = set()
        for key, demos, states in episodes:
            agent.extend(alignment_score(states, demo, p, kind) for demo in demos)
            if key not in seen:
                seen.add(key)
                reference.extend(self._reference(key, demos, p))
        return self._percentiles(agent, reference)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        return {"horizon": self.horizon, "progress": self.progress, "updates": self.updates}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.horizon = state["horizon"]
        self.progress = state["progress"]
        self.updates = int(state.get("updates", 0))
