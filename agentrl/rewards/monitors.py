"""Reward-hacking monitor after "Correlated Proxies" (Laidlaw, Singhal and Dragan, ICLR 2025).

A proxy reward is fine to optimise while it stays correlated with the true reward *on the states a
base policy visits*; reward hacking is optimising the proxy into a policy whose true reward falls
below the base policy's. So the reference is a frozen **base policy** (the policy when RL starts):

* at ``setup`` the trainer hands over episodes of the frozen base policy (sampled as training
  rollouts are); without a trainer, the first batch the monitor sees is taken as the base;
* for each proxy present -- ``immediate`` (the env's per-turn reward components, **excluding** the
  true outcome components ``true_components``), ``calm`` (CALM's ``fields["calm"]``) and ``prm``
  (OPRL's ``fields["prm"]``) -- and each training batch, it reports the Pearson correlation of the
  proxy's episode total with the true reward (``success`` or ``outcome``), the base's correlation,
  and the *drop* from base; and the drop of the true return from the base's;
* tolerances come from bootstrapped noise: the standard deviation of each statistic over
  ``bootstrap`` resamples of the base episodes and of the batch, combined and scaled by the one-sided
  normal quantile of ``confidence``;
* an alert (``monitor/<proxy>_alert = 1`` and a :class:`RewardHackingWarning`) fires when the proxy
  has risen above the base while both its correlation with the true reward and the true return
  dropped by more than their tolerances.

A correlation is undefined when a side is constant; it is then left out of the metrics (not
reported as 0), ``monitor/<proxy>_corr_defined`` is 0, and no alert can fire on it.

The paper's remedy -- a chi-squared occupancy-measure penalty towards the base policy -- is not a
learner option here; the KL penalty to a frozen reference (``rl.kl_coef``) is the regulariser on offer.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any, Mapping

import numpy as np

from agentrl.core.trajectory import Trajectory, TrajectoryBatch
from agentrl.rewards.base import RewardStage, TrainingContext

TRUE_REWARDS = ("success", "outcome")
PROXIES = ("immediate", "calm", "prm")


class RewardHackingWarning(UserWarning):
    """A proxy reward rose while its correlation with the true reward and the true return fell."""


@dataclass
class MonitorConfig:
    immediate_components: list[str] | None = None
    """Reward components summed into the ``immediate`` proxy; ``None`` takes every component except
    ``true_components``."""
    true_components: list[str] = field(default_factory=list)
    """Components that are the true outcome (e.g. Sokoban's ``finished``, SWE's ``outcome``): never
    part of a proxy, whatever ``immediate_components`` says."""
    true_reward: str = "success"
    """What the proxies are checked against: episode ``success`` (0/1) or ``outcome``."""
    bootstrap: int = 500
    """Resamples used to estimate the noise of each statistic."""
    confidence: float = 0.95
    """One-sided confidence of a drop before it counts (normal quantile of the bootstrap std)."""
    seed: int = 0
    """Seed of the bootstrap resampling."""
    warn: bool = True
    """Issue a ``RewardHackingWarning`` on an alert (metrics are written either way)."""

    def __post_init__(self) -> None:
        if self.true_reward not in TRUE_REWARDS:
            raise ValueError(f"true_reward must be one of {TRUE_REWARDS}, got {self.true_reward!r}")
        if self.bootstrap < 10:
            raise ValueError(f"bootstrap must be >= 10 resamples, got {self.bootstrap}")
        if not 0.5 < self.confidence < 1.0:
            raise ValueError(f"confidence must be in (0.5, 1), got {self.confidence}")


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation, or ``None`` when either side is constant."""
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


@dataclass
class Sample:
    """Per-episode true reward and proxy totals of one batch."""

    true: np.ndarray
    proxies: dict[str, np.ndarray]


class RewardHackingMonitor(RewardStage):
    """Proxy-true correlations against a frozen base policy, with bootstrapped alerts."""

    Config = MonitorConfig
    config: MonitorConfig
    metric_prefix = "monitor"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.base: Sample | None = None
        self.alerts: list[str] = []
        """Messages of the alerts raised on the latest batch."""
        self._rng = np.random.default_rng(self.config.seed)

    # ------------------------------------------------------------------ proxies
    def proxies(self, trajectory: Trajectory) -> dict[str, float]:
        """Episode totals of each proxy present in the trajectory (outcome components excluded)."""
        wanted, excluded = self.config.immediate_components, set(self.config.true_components)
        immediate = sum(
            value
            for turn in trajectory.turns
            for name, value in turn.reward_components.items()
            if (wanted is None or name in wanted) and name not in excluded
        )
        out = {"immediate": float(immediate)}
        for name in ("prm", "calm"):
            if any(name in turn.fields for turn in trajectory.turns):
                out[name] = float(sum(turn.fields.get(name, 0.0) for turn in trajectory.turns))
        return out

    def sample(self, batch: TrajectoryBatch) -> Sample:
        rows = [self.proxies(t) for t in batch]
        names = [n for n in PROXIES if rows and all(n in row for row in rows)]
        true = np.array([float(t.success) if self.config.true_reward == "success" else float(t.outcome) for t in batch])
        return Sample(true, {n: np.array([row[n] for row in rows]) for n in names})

    # ------------------------------------------------------------------ reference
    def setup(self, context: TrainingContext) -> None:
        """Take the frozen base policy's episodes as the reference (unless a resumed state has one)."""
        if self.base is None and context.base_policy_episodes is not None:
            self.base = self.sample(context.base_policy_episodes())

    # ------------------------------------------------------------------ the stage
    def __call__(self, batch: TrajectoryBatch) -> TrajectoryBatch:
        if not len(batch):
            return batch
        current = self.sample(batch)
        if self.base is None:  # no trainer gave a base policy: the first batch is the base
            self.base = current
        self.alerts = []
        base = self.base
        metrics: dict[str, float] = {"true_return": float(current.true.mean()),
                                     "base_true_return": float(base.true.mean())}
        return_drop = float(base.true.mean() - current.true.mean())
        return_tolerance = self._tolerance(base.true, current.true, lambda t, _: float(t.mean()))
        metrics.update(true_return_drop=return_drop, true_return_tolerance=return_tolerance)
        for name, values in current.proxies.items():
            metrics.update(self._proxy_metrics(name, values, current, return_drop > return_tolerance))
        self.record(batch, metrics)
        for message in self.alerts:
            if self.config.warn:
                warnings.warn(message, RewardHackingWarning, stacklevel=2)
        return batch

    def _proxy_metrics(self, name: str, values: np.ndarray, current: Sample, true_dropped: bool) -> dict[str, float]:
        base = self.base
        out = {f"{name}_mean": float(values.mean())}
        corr = pearson(values, current.true)
        base_values = base.proxies.get(name)
        base_corr = pearson(base_values, base.true) if base_values is not None else None
        out[f"{name}_corr_defined"] = float(corr is not None)
        if corr is not None:
            out[f"{name}_corr"] = corr
        alert = False
        if base_values is not None:
            out[f"{name}_base_mean"] = float(base_values.mean())
        if corr is not None and base_corr is not None:
            drop = base_corr - corr
            tolerance = self._tolerance(np.stack([base_values, base.true]), np.stack([values, current.true]),
                                        lambda pair, _: pearson(pair[0], pair[1]))
            out.update({f"{name}_base_corr": base_corr, f"{name}_corr_drop": drop,
                        f"{name}_corr_tolerance": tolerance})
            alert = bool(values.mean() > base_values.mean() and drop > tolerance and true_dropped)
            if alert:
                self.alerts.append(
                    f"possible reward hacking: proxy {name!r} rose ({base_values.mean():.3g} -> {values.mean():.3g}) "
                    f"while its correlation with {self.config.true_reward} fell ({base_corr:.2f} -> {corr:.2f}, "
                    f"tolerance {tolerance:.2f}) and the true return fell below the base policy's"
                )
        out[f"{name}_alert"] = float(alert)
        return out

    def _tolerance(self, base: np.ndarray, current: np.ndarray, statistic) -> float:
        """z * sqrt(var_base + var_current) of ``statistic`` over bootstrap resamples of episodes
        (the last axis); resamples where the statistic is undefined are skipped."""
        z = NormalDist().inv_cdf(self.config.confidence)
        return float(z * np.sqrt(self._variance(base, statistic) + self._variance(current, statistic)))

    def _variance(self, data: np.ndarray, statistic) -> float:
        n = data.shape[-1]
        values = []
        for _ in range(self.config.bootstrap):
            picked = data[..., self._rng.integers(0, n, size=n)]
            value = statistic(picked, n)
            if value is not None:
                values.append(value)
        return float(np.var(values)) if len(values) > 1 else 0.0

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        if self.base is None:
            return {}
        return {"base": {"true": self.base.true.tolist(),
                         "proxies": {n: v.tolist() for n, v in self.base.proxies.items()}},
                "rng": self._rng.bit_generator.state}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        if not state:
            return
        base = state["base"]
        self.base = Sample(np.asarray(base["true"], dtype=np.float64),
                           {n: np.asarray(v, dtype=np.float64) for n, v in base["proxies"].items()})
        self._rng.bit_generator.state = state["rng"]
