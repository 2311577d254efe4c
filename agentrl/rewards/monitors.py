"""Reward-hacking monitor: do the proxy rewards still track true success?

Per batch it reports, for each proxy reward present -- ``immediate`` (the env's immediate reward
components), ``prm`` (OPRL's ``fields["prm"]``) and ``calm`` (``fields["calm"]``) -- the Pearson
correlation across trajectories between the proxy's episode total and success (0/1), plus the
proxy's batch mean and the success rate. Over the last ``window`` batches it fits a least-squares
slope to each; when a proxy's slope is above ``tolerance`` while the success rate's is below
``-tolerance``, it sets ``monitor/<proxy>_alert = 1`` and issues a :class:`RewardHackingWarning`.

A correlation is undefined when the proxy or success is constant in the batch; it is then left out
of the metrics (not reported as 0) and ``monitor/<proxy>_corr_defined`` is 0.
"""

from __future__ import annotations

import warnings
from collections import deque
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from agentrl.core.trajectory import Trajectory, TrajectoryBatch
from agentrl.rewards.base import RewardStage


class RewardHackingWarning(UserWarning):
    """A proxy reward rises while true success falls."""


@dataclass
class MonitorConfig:
    immediate_components: list[str] | None = None
    """Reward components summed into the ``immediate`` proxy; ``None`` takes every component."""
    window: int = 5
    """Batches over which trends are fitted."""
    tolerance: float = 0.0
    """Slopes (per batch) must exceed this in size to count as rising or falling."""
    warn: bool = True
    """Issue a ``RewardHackingWarning`` on an alert (metrics are written either way)."""

    def __post_init__(self) -> None:
        if self.window < 2:
            raise ValueError(f"window must be >= 2 batches to fit a trend, got {self.window}")


def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson correlation, or ``None`` when either side is constant."""
    if len(x) < 2 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    return float(np.corrcoef(x, y)[0, 1])


def slope(values: list[float]) -> float:
    """Least-squares slope of ``values`` against 0, 1, 2, ..."""
    x = np.arange(len(values), dtype=np.float64)
    return float(np.polyfit(x, np.asarray(values, dtype=np.float64), 1)[0])


class RewardHackingMonitor(RewardStage):
    """Correlations of proxy rewards with success, and alerts on diverging trends."""

    Config = MonitorConfig
    config: MonitorConfig
    metric_prefix = "monitor"

    def __init__(self, config: Any = None, /, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.history: dict[str, deque] = {}
        self.alerts: list[str] = []
        """Messages of the alerts raised on the latest batch."""

    def proxies(self, trajectory: Trajectory) -> dict[str, float]:
        """Episode totals of each proxy reward present in the trajectory."""
        wanted = self.config.immediate_components
        immediate = sum(
            value
            for turn in trajectory.turns
            for name, value in turn.reward_components.items()
            if wanted is None or name in wanted
        )
        out = {"immediate": float(immediate)}
        for name in ("prm", "calm"):
            if any(name in turn.fields for turn in trajectory.turns):
                out[name] = float(sum(turn.fields.get(name, 0.0) for turn in trajectory.turns))
        return out

    def __call__(self, batch: TrajectoryBatch) -> TrajectoryBatch:
        if not len(batch):
            return batch
        success = np.array([float(t.success) for t in batch])
        rows = [self.proxies(t) for t in batch]
        names = [n for n in ("immediate", "prm", "calm") if all(n in row for row in rows)]
        success_rate = float(success.mean())
        metrics: dict[str, float] = {"success_rate": success_rate}
        self.alerts = []
        for name in names:
            values = np.array([row[name] for row in rows])
            corr = pearson(values, success)
            metrics[f"{name}_corr_defined"] = float(corr is not None)
            if corr is not None:
                metrics[f"{name}_corr"] = corr
            mean = float(values.mean())
            metrics[f"{name}_mean"] = mean
            metrics[f"{name}_alert"] = float(self._trend(name, mean, success_rate))
        self.record(batch, metrics)
        for message in self.alerts:
            if self.config.warn:
                warnings.warn(message, RewardHackingWarning, stacklevel=2)
        return batch

    def _trend(self, name: str, proxy_mean: float, success_rate: float) -> bool:
        history = self.history.setdefault(name, deque(maxlen=self.config.window))
        history.append((proxy_mean, success_rate))
        if len(history) < self.config.window:
            return False
        proxy_slope = slope([p for p, _ in history])
        success_slope = slope([s for _, s in history])
        tol = self.config.tolerance
        if proxy_slope > tol and success_slope < -tol:
            self.alerts.append(
                f"possible reward hacking: proxy {name!r} rose ({proxy_slope:+.3g}/batch) while the success "
                f"rate fell ({success_slope:+.3g}/batch) over the last {len(history)} batches"
            )
            return True
        return False

    def state_dict(self) -> dict[str, Any]:
        return {"history": {name: [list(item) for item in h] for name, h in self.history.items()}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.history = {
            name: deque((tuple(item) for item in items), maxlen=self.config.window)
            for name, items in state.get("history", {}).items()
        }
