"""Per-turn advantages for a trajectory batch, from the reward fields the pipeline wrote.

Three estimators, chosen by ``rl.advantage``:

* ``turn`` -- each turn's discounted return-to-go ``G_t`` (per-turn gammas from ADS), minus the
  leave-one-out mean of the *other* group members' return-to-go at the same turn index (members
  that already ended contribute 0, their true future return). The baseline never depends on the
  trajectory's own actions, so the estimate stays unbiased, and turns get credit for what follows
  them rather than a broadcast episode score.
* ``episode`` -- the GRPO baseline: the group-normalised episode return, broadcast to every turn.
* ``gae`` -- generalised advantage estimation on the value head's per-turn values (PPO).

When turns carry ``fields["step_reward"]`` (OPRL), ``step_weight`` times its RLOO advantage is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from agentrl.core.trajectory import Trajectory
from agentrl.train.advantages import discounted_returns, gae, group_advantages, step_advantages


@dataclass
class Credit:
    advantages: list[np.ndarray]
    """One array per trajectory, one value per turn."""
    returns: list[np.ndarray]
    """Value targets per turn (for the value head)."""


def _rewards(t: Trajectory) -> np.ndarray:
    return t.field_array("reward")


def _gammas(t: Trajectory, gamma: float) -> np.ndarray:
    return t.field_array("gamma", default=gamma)


def _returns(trajectories: Sequence[Trajectory], gamma: float) -> list[np.ndarray]:
    return [np.asarray(discounted_returns(_rewards(t), _gammas(t, gamma))) for t in trajectories]


def turn_credit(trajectories: Sequence[Trajectory], gamma: float, **_) -> Credit:
    returns = _returns(trajectories, gamma)
    horizon = max((len(r) for r in returns), default=0)
    padded = np.zeros((len(returns), horizon))
    for i, r in enumerate(returns):
        padded[i, : len(r)] = r
    groups = [t.group_id for t in trajectories]
    columns = [np.asarray(group_advantages(padded[:, k], groups, "rloo")) for k in range(horizon)]
    advantages = [np.array([columns[k][i] for k in range(len(r))]) for i, r in enumerate(returns)]
    return Credit(advantages, returns)


def episode_credit(trajectories: Sequence[Trajectory], gamma: float, baseline: str = "rloo", **_) -> Credit:
    returns = _returns(trajectories, gamma)
    scores = np.array([r[0] if len(r) else 0.0 for r in returns])
    episode = np.asarray(group_advantages(scores, [t.group_id for t in trajectories], baseline))
    return Credit([np.full(len(r), a) for r, a in zip(returns, episode)], returns)


def gae_credit(trajectories: Sequence[Trajectory], gamma: float, values: Sequence[np.ndarray] | None = None,
               lam: float = 0.95, **_) -> Credit:
    if values is None:
        raise ValueError("gae needs per-turn values from a value head")
    advantages, returns = [], []
    for t, v in zip(trajectories, values):
        # A truncated episode still has a future: bootstrap from the value of its final turn.
        last = float(v[-1]) if (t.truncated and len(v)) else 0.0
        a = np.asarray(gae(_rewards(t), v, _gammas(t, gamma), lam=lam, last_value=last))
        advantages.append(a)
        returns.append(a + np.asarray(v))
    return Credit(advantages, returns)


ESTIMATORS: dict[str, Callable[..., Credit]] = {"turn": turn_credit, "episode": episode_credit, "gae": gae_credit}


def compute_credit(
    trajectories: Sequence[Trajectory], estimator: str, *, gamma: float = 1.0, baseline: str = "rloo",
    lam: float = 0.95, values: Sequence[np.ndarray] | None = None, step_weight: float = 1.0,
    normalize: bool = True,
) -> Credit:
    credit = ESTIMATORS[estimator](trajectories, gamma=gamma, baseline=baseline, values=values, lam=lam)
    step_adv = step_advantages(trajectories, [t.group_id for t in trajectories])
    if step_adv is not None:
        credit.advantages = [a + step_weight * s for a, s in zip(credit.advantages, step_adv)]
    if normalize:
        flat = np.concatenate(credit.advantages) if credit.advantages else np.zeros(0)
        scale = flat.std() if flat.size > 1 else 0.0
        if scale > 1e-8:
            credit.advantages = [a / scale for a in credit.advantages]
    return credit
