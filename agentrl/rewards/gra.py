"""G-RA: Gated Reward Accumulation ("Stabilizing Long-term Multi-turn RL with Gated Rewards").

Reward components have priorities (higher = longer-term) and thresholds. A component counts only
when every component of strictly higher priority reaches its threshold over the episode. With one
long-term component ``h`` and immediate components ``l``::

    R = r_h + 1[r_h >= threshold_h] * sum_t r_l,t

Per turn the stage writes

* ``fields["gra"]``: the gated reward of the turn (its components whose gates are open);
* ``fields["dra"]``: the ungated sum of the turn's components (D-RA, the paper's baseline);
* ``fields["reward"]``: ``gra`` (or ``dra`` with ``gate=False``), for the learner.

Summed over an episode, ``gra`` equals the episode-level G-RA return ``R`` (with the cap below).

The stall loophole and the immediate cap. The paper's formula sums every immediate reward of an
episode whose gate opens, so a repeatable immediate reward (a tool call that pays, a move that pays)
still pays per repetition inside a solved episode: the agent learns to farm it for as many turns as
it can and solve at the very end (measured: ``benchmarks/ablations.py gra``). ``immediate_cap``
bounds what the immediate components may earn in one episode. Their running total is clipped from
above at the cap ``C``: a turn pays ``min(P + x, C) - P`` where ``P`` is what the episode's earlier
turns were paid and ``x`` the turn's immediate reward, so penalties always count in full and, once
the cap is reached, repeating a paid action earns nothing. The return becomes::

    R = r_h + 1[r_h >= threshold_h] * (S_T - max(0, max_t S_t - C))     (S_t = sum_{k<=t} r_l,k)

which is ``r_h + 1[...] * min(S_T, C)`` for non-negative immediate rewards. Stalling therefore earns
at most ``C`` above the bare outcome, exactly what a direct solve earns once its own immediate
rewards reach ``C``; with any discount the direct solve is worth strictly more (its outcome comes
sooner). Choose ``C`` at or below what the shortest real solve earns. A number caps the total of
every immediate (non-gate) component that counts; a dict caps each named component on its own.
The cap touches only ``gra``: ``dra`` stays the paper's ungated, uncapped sum (the D-RA baseline),
and with ``gate=False`` the learner gets exactly that.

Episode-level components: a component that no turn reports, named ``outcome`` or ``success``, is read
from the trajectory (``trajectory.outcome`` / ``trajectory.success``) and placed on the last turn.
This is how SWE's long-term ``outcome`` enters when the env reports it in ``info`` only.

Auxiliary rewards of earlier stages (CALM's ``fields["calm"]``) are components too (``auxiliary``,
immediate by default): they pass through the same gate, so a failed episode cannot earn them. A
pipeline refuses to put a reward-adding stage after the gate (see ``check_composition``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import accumulate

from agentrl.core.trajectory import TrajectoryBatch
from agentrl.rewards.base import RewardStage

#: Components that may come from the trajectory itself when no turn reports them.
EPISODE_LEVEL = ("outcome", "success")


@dataclass
class GRAConfig:
    priorities: dict[str, int] = field(default_factory=dict)
    """Priority of each reward component; higher means longer-term. Unlisted components get
    ``default_priority``."""
    thresholds: dict[str, float] = field(default_factory=dict)
    """Episode-total threshold of each gating component. Every component whose priority is above
    ``default_priority`` needs one."""
    default_priority: int = 0
    """Priority of components not named in ``priorities`` (the immediate rewards)."""
    gate: bool = True
    """False writes the ungated sum (D-RA) to ``fields["reward"]``: the paper's baseline."""
    auxiliary: list[str] = field(default_factory=lambda: ["calm"])
    """Fields written by earlier stages (e.g. CALM's ``calm``) gated as reward components."""
    immediate_cap: float | dict[str, float] | None = None
    """Most the immediate (non-gate) components may earn in one episode (see the module docstring):
    a number caps their total, ``{component: cap}`` caps each named one. None: uncapped, the paper's
    formula, which pays an agent for stalling in a solved episode. Shipped presets set it."""

    def __post_init__(self) -> None:
        self.immediate_cap = _checked_cap(self.immediate_cap, gates=set(self.thresholds))
        missing = [
            c for c, p in self.priorities.items() if p > self.default_priority and c not in self.thresholds
        ]
        if missing:
            raise ValueError(
                f"components {missing} gate lower-priority rewards but have no threshold; "
                f"add them to thresholds, e.g. thresholds={{{missing[0]!r}: 1.0}}"
            )


def _checked_cap(cap, gates: set[str]):
    """``cap`` as a float or a dict of floats, each finite and >= 0, never naming a gate."""
    example = "e.g. immediate_cap=1.0 or immediate_cap={'format': 0.1}"
    if cap is None:
        return None
    if isinstance(cap, str):
        try:
            cap = float(cap)
        except ValueError:
            raise ValueError(f"immediate_cap must be a number or a mapping of component to number ({example}), "
                             f"got {cap!r}") from None
    if isinstance(cap, dict):
        named_gates = sorted(set(cap) & gates)
        if named_gates:
            raise ValueError(f"immediate_cap names {named_gates}, which are gates (they have thresholds); "
                             f"cap only the immediate components they gate ({example})")
        return {name: _checked_cap_value(f"immediate_cap[{name!r}]", value) for name, value in cap.items()}
    if isinstance(cap, bool) or not isinstance(cap, (int, float)):
        raise TypeError(f"immediate_cap must be a number or a mapping of component to number ({example}), "
                         f"got {cap!r}")
    return _checked_cap_value("immediate_cap", cap)


def _checked_cap_value(name: str, value) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value) or value < 0:
        raise ValueError(f"{name} must be a number >= 0 (math.inf: no cap), got {value!r}")
    return float(value)


def capped(values: list[float], cap: float) -> list[float]:
    """What each turn pays of ``values`` when their running total is clipped from above at ``cap``."""
    paid, total = [], 0.0
    for value in values:
        step = value if total + value <= cap else max(cap - total, 0.0)
        total += step
        paid.append(step)
    return paid


class GatedRewardAccumulation(RewardStage):
    """Gate immediate reward components on long-term ones (see module docstring)."""

    Config = GRAConfig
    config: GRAConfig
    metric_prefix = "gra"
    gates_reward = True

    def __init__(self, config=None, /, **overrides) -> None:
        super().__init__(config, **overrides)
        priorities, default = self.config.priorities, self.config.default_priority
        self._gates = [(name, t, priorities.get(name, default)) for name, t in self.config.thresholds.items()]
        self._episode_level = [name for name in EPISODE_LEVEL if name in priorities]
        self._counted: dict[int, list[str] | None] = {}

    def __call__(self, batch: TrajectoryBatch) -> TrajectoryBatch:
        # The hot path (G-RA must stay under 1 ms per 1,000 turns): one flat pass over every turn of
        # the batch, per-batch precomputed gates, and per-episode work only for closed gates.
        episodes = [t for t in batch if t.turns]
        turns = [turn for t in episodes for turn in t.turns]
        per_turn = self._components(turns)
        ends = list(accumulate(len(t.turns) for t in episodes))
        spans = list(zip([0, *ends[:-1]], ends))
        extras = self._episode_level_extras(episodes, per_turn, spans)
        cutoffs = self._cutoffs(per_turn, spans, extras)
        dras = [sum(c.values(), 0.0) for c in per_turn]
        gras = dras
        if any(cutoff is not None for cutoff in cutoffs):
            gras = list(dras)
            for (start, end), cutoff in zip(spans, cutoffs):
                if cutoff is not None:
                    gras[start:end] = self._gated(per_turn[start:end], cutoff)
        if self.config.immediate_cap is not None:
            gras = self._capped(per_turn, gras, spans, cutoffs)
        self._write(turns, gras, dras)
        gra_total, dra_total = sum(gras, 0.0), sum(dras, 0.0)
        for trajectory, extra, cutoff in zip(episodes, extras, cutoffs):
            if extra:  # episode-level components land on the last turn
                added_gra, added_dra = self._add_episode_level(trajectory.turns[-1].fields, extra, cutoff)
                gra_total += added_gra
                dra_total += added_dra
        n = max(len(batch), 1)
        open_episodes = len(batch) - len(episodes) + cutoffs.count(None)
        self.record(
            batch,
            {"gate_open_rate": open_episodes / n, "mean_return": gra_total / n, "dra_mean_return": dra_total / n},
        )
        return batch

    def gated_fields(self) -> tuple[str, ...]:
        return tuple(self.config.auxiliary)

    def _components(self, turns: list) -> list[dict[str, float]]:
        """Each turn's reward components, plus the auxiliary fields earlier stages wrote."""
        aux = self.config.auxiliary
        if not any(name in turn.fields for turn in turns for name in aux):
            return [turn.reward_components for turn in turns]
        return [{**turn.reward_components, **{n: turn.fields[n] for n in aux if n in turn.fields}} for turn in turns]

    def _write(self, turns: list, gras: list[float], dras: list[float]) -> None:
        if self.config.gate:
            for turn, gra, dra in zip(turns, gras, dras):
                fields = turn.fields
                fields["gra"] = fields["reward"] = gra
                fields["dra"] = dra
        else:
            for turn, gra, dra in zip(turns, gras, dras):
                fields = turn.fields
                fields["gra"] = gra
                fields["dra"] = fields["reward"] = dra

    def _cutoffs(self, per_turn, spans, extras) -> list[int | None]:
        """Per episode, the highest priority of a failing gate (None: every gate open)."""
        failing: list[list[int]] = [[] for _ in spans]
        for name, threshold, priority in self._gates:
            values = [c.get(name, 0.0) for c in per_turn]
            for fails, (start, end), extra in zip(failing, spans, extras):
                if sum(values[start:end]) + (extra.get(name, 0.0) if extra else 0.0) < threshold:
                    fails.append(priority)
        return [max(fails) if fails else None for fails in failing]

    def _gated(self, per_turn: list[dict[str, float]], cutoff: int) -> list[float]:
        """Per-turn sums of the components whose priority is at least ``cutoff``."""
        priorities, default = self.config.priorities, self.config.default_priority
        if cutoff not in self._counted:  # above the default, only listed components can count
            names = [n for n, p in priorities.items() if p >= cutoff]
            self._counted[cutoff] = names if cutoff > default else None
        names = self._counted[cutoff]
        if names is not None:
            return [sum([c[n] for n in names if n in c], 0.0) for c in per_turn]
        return [sum([v for n, v in c.items() if priorities.get(n, default) >= cutoff], 0.0) for c in per_turn]

    def _capped(self, per_turn, gras, spans, cutoffs) -> list[float]:
        """``gras`` less, per episode, what its immediate components earned above their cap."""
        gras = list(gras)
        for (start, end), cutoff in zip(spans, cutoffs):
            for cap, values in self._immediate_streams(per_turn[start:end], gras[start:end], cutoff):
                if max(accumulate(values)) <= cap:  # the common case: the cap is never reached
                    continue
                for index, (value, paid) in enumerate(zip(values, capped(values, cap)), start):
                    gras[index] -= value - paid
        return gras

    def _immediate_streams(self, per_turn: list[dict[str, float]], gras: list[float], cutoff: int | None):
        """(cap, per-turn values) of each capped stream of the immediate components that count."""
        cap, gates = self.config.immediate_cap, self.config.thresholds
        if isinstance(cap, dict):
            for name in cap:
                if self._counts(name, cutoff):
                    yield cap[name], [c.get(name, 0.0) for c in per_turn]
        elif cutoff is None:  # every component counts: the immediate part is the turn's gra less its gates
            yield cap, [gra - sum([c[g] for g in gates if g in c], 0.0) for gra, c in zip(gras, per_turn)]
        elif cutoff > self.config.default_priority and not any(self._counts(n, cutoff) for n in self.config.priorities):
            return  # above the default only listed components count, and none of them is immediate
        elif any(self._counts(name, cutoff) for c in per_turn for name in c):
            yield cap, [sum([v for n, v in c.items() if self._counts(n, cutoff)], 0.0) for c in per_turn]

    def _counts(self, name: str, cutoff: int | None) -> bool:
        """Is ``name`` an immediate (non-gate) component that counts below a failing gate at ``cutoff``?"""
        if name in self.config.thresholds:
            return False
        return cutoff is None or self.config.priorities.get(name, self.config.default_priority) >= cutoff

    def _episode_level_extras(self, episodes, per_turn, spans) -> list[dict[str, float]]:
        """Per episode, ``outcome`` / ``success`` read from the trajectory when no turn reports them."""
        if not self._episode_level:
            return [{}] * len(episodes)
        return [
            {
                name: float(getattr(trajectory, name))
                for name in self._episode_level
                if not any(name in c for c in per_turn[start:end])
            }
            for trajectory, (start, end) in zip(episodes, spans)
        ]

    def _add_episode_level(self, fields: dict[str, float], extra: dict[str, float], cutoff: int | None):
        priorities, default = self.config.priorities, self.config.default_priority
        added_dra = sum(extra.values())
        added_gra = sum(v for n, v in extra.items() if cutoff is None or priorities.get(n, default) >= cutoff)
        fields["dra"] += added_dra
        fields["gra"] += added_gra
        fields["reward"] = fields["gra"] if self.config.gate else fields["dra"]
        return added_gra, added_dra


def gated_return(long_term: float, threshold: float, immediate: list[float], cap: float = math.inf) -> float:
    """The two-level G-RA return ``r_h + 1[r_h >= threshold] * (S_T - max(0, max_t S_t - cap))``, where
    ``S_t`` is the running sum of the immediate rewards (``min(S_T, cap)`` when none is negative)."""
    if long_term < threshold:
        return long_term
    running = list(accumulate(immediate, initial=0.0))
    return long_term + running[-1] - max(0.0, max(running) - cap)
