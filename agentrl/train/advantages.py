"""Per-turn advantages: pure functions with explicit inputs, one estimator per function.

Nothing here holds trainer state. A discount schedule is always an argument: ``gammas`` is a scalar
or one value per turn, where ``gammas[t]`` discounts what follows turn ``t`` (ADS writes it as
``turn.fields["gamma"]``). ``next_value`` is the value of the state *after* the last turn: 0 when
the episode terminated, the critic's estimate of the final observation when it was truncated (as
TorchRL's ``next_state_value``).

Building blocks:

* :func:`discounted_returns` -- ``G_t = r_t + gamma_t * G_{t+1}``, ``G_T = next_value``;
* :func:`gae` -- generalised advantage estimation with per-turn discounts;
* :func:`group_advantages` -- GRPO-style group baselines: ``mean``, ``mean_std`` or ``rloo``;
* :func:`oprl_advantages` -- OPRL's ``A = A_episode + w * A_step``, both with the RLOO baseline.

Estimators (``rl.advantage``), each ``(inputs, settings) -> Advantages``:

* :func:`turn_estimator` -- each turn's return-to-go minus the leave-one-out mean of the other group
  members' return-to-go at the same turn index (members that already ended contribute 0, their true
  future return): turns get credit for what follows them, and the baseline never depends on the
  trajectory's own actions;
* :func:`episode_estimator` -- GRPO: the group-baselined episode return, the same for every turn;
* :func:`gae_estimator` -- GAE on a value head's per-turn values (PPO).

:func:`batch_advantages` reads the inputs out of a trajectory batch through the reward-field
contract (``fields["reward"]``, ``fields["gamma"]``, ``fields["step_reward"]``) and applies one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import Any, Callable, Hashable, Sequence

import numpy as np

BASELINES = ("mean", "mean_std", "rloo")


# ------------------------------------------------------------------------------ building blocks
def _to_numpy(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):  # a torch tensor (torch is not imported by this module)
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def _per_turn(gammas: Any, n: int, name: str = "gammas") -> np.ndarray:
    array = _to_numpy(gammas)
    if array.ndim == 0:
        return np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have one value per turn ({n}), got shape {array.shape}")
    return array


def discounted_returns(rewards: Any, gammas: Any = 1.0, next_value: float = 0.0) -> np.ndarray:
    """Reward-to-go ``G_t = r_t + gamma_t * G_{t+1}``, with ``G_T = next_value``."""
    r = _to_numpy(rewards)
    g = _per_turn(gammas, len(r))
    out = np.empty_like(r)
    running = float(next_value)
    for t in range(len(r) - 1, -1, -1):
        running = r[t] + g[t] * running
        out[t] = running
    return out


def gae(rewards: Any, values: Any, gammas: Any = 1.0, lam: float = 1.0, next_value: float = 0.0) -> np.ndarray:
    """GAE: ``delta_t = r_t + gamma_t V_{t+1} - V_t``, ``A_t = delta_t + gamma_t lam A_{t+1}``, where
    ``V_T = next_value``. With ``lam=1`` this is ``discounted_returns - values``; with ``lam=0`` the
    one-step TD error. Value targets are ``advantages + values``."""
    r, v = _to_numpy(rewards), _to_numpy(values)
    if v.shape != r.shape:
        raise ValueError(f"values must match rewards in shape, got {v.shape} and {r.shape}")
    g = _per_turn(gammas, len(r))
    out = np.empty_like(r)
    running, following = 0.0, float(next_value)
    for t in range(len(r) - 1, -1, -1):
        delta = r[t] + g[t] * following - v[t]
        running = delta + g[t] * lam * running
        out[t] = running
        following = v[t]
    return out


def _group_indices(group_ids: Sequence[Hashable]) -> list[np.ndarray]:
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, gid in enumerate(group_ids):
        groups[gid].append(index)
    return [np.asarray(indices) for indices in groups.values()]


def group_advantages(scores: Any, group_ids: Sequence[Hashable], mode: str = "mean", eps: float = 1e-6) -> np.ndarray:
    """Scores minus their group baseline.

    * ``mean``: ``x - mean(group)`` (Dr. GRPO style, no scaling);
    * ``mean_std``: ``(x - mean(group)) / (std(group) + eps)`` with the unbiased std (GRPO as in
      TRL and verl); a group of one gets 0;
    * ``rloo``: ``n/(n-1) * (x - mean(group))`` = ``x`` minus the mean of the *other* members
      (REINFORCE leave-one-out); a group of one gets 0, having no others.
    """
    if mode not in BASELINES:
        raise ValueError(f"unknown baseline mode {mode!r}; choose one of {', '.join(BASELINES)}")
    x = _to_numpy(scores)
    if len(group_ids) != len(x):
        raise ValueError(f"got {len(x)} scores but {len(group_ids)} group ids")
    out = np.zeros_like(x)
    for indices in _group_indices(group_ids):
        values = x[indices]
        n = len(values)
        centred = values - values.mean()
        if mode == "mean":
            out[indices] = centred
        elif n > 1 and mode == "rloo":
            out[indices] = centred * n / (n - 1)
        elif n > 1:
            out[indices] = centred / (values.std(ddof=1) + eps)
    return out


def oprl_advantages(episode_scores: Any, step_rewards: Sequence[Any], group_ids: Sequence[Hashable],
                    weight: float = 1.0) -> list[np.ndarray]:
    """OPRL's per-turn advantage ``A_t = A_episode + weight * A_step,t``.

    ``A_episode`` is the RLOO advantage of each trajectory's outcome within its group, the same for
    every turn of the trajectory. ``A_step,t`` is the RLOO advantage of turn ``t``'s step reward
    among all turns of the trajectories in the same group. Returns one array per trajectory.
    """
    if not (len(step_rewards) == len(group_ids) == len(_to_numpy(episode_scores))):
        raise ValueError("episode_scores, step_rewards and group_ids need one entry per trajectory")
    episode = group_advantages(_to_numpy(episode_scores), group_ids, "rloo")
    lengths = [len(_to_numpy(s)) for s in step_rewards]
    flat = np.concatenate([_to_numpy(s) for s in step_rewards]) if step_rewards else np.zeros(0)
    turn_groups = [gid for gid, n in zip(group_ids, lengths) for _ in range(n)]
    step = group_advantages(flat, turn_groups, "rloo")
    out, start = [], 0
    for i, n in enumerate(lengths):
        out.append(episode[i] + weight * step[start : start + n])
        start += n
    return out


# ------------------------------------------------------------------------------------ estimators
@dataclass
class AdvantageInputs:
    """What the estimators read, one entry per trajectory."""

    rewards: list[np.ndarray]
    gammas: list[np.ndarray]
    group_ids: list[Hashable]
    next_values: list[float]
    """Value of the state after the last turn: 0 when terminated, the critic's estimate when truncated."""
    values: list[np.ndarray] | None = None
    """Per-turn value estimates (GAE only)."""
    step_rewards: list[np.ndarray] | None = None
    """OPRL's per-turn process rewards, when a PRM wrote them."""


@dataclass
class Advantages:
    advantages: list[np.ndarray]
    """One array per trajectory, one value per turn."""
    returns: list[np.ndarray]
    """Value targets per turn (for a value head)."""


def turn_estimator(inputs: AdvantageInputs, *, baseline: str = "rloo", **_: Any) -> Advantages:
    """Return-to-go minus the leave-one-out group mean at the same turn index (``baseline`` is
    always RLOO here: a baseline that includes the trajectory itself would bias the gradient)."""
    returns = [discounted_returns(r, g, nv) for r, g, nv in zip(inputs.rewards, inputs.gammas, inputs.next_values)]
    horizon = max((len(r) for r in returns), default=0)
    padded = np.zeros((len(returns), horizon))
    for i, r in enumerate(returns):
        padded[i, : len(r)] = r
    columns = [group_advantages(padded[:, k], inputs.group_ids, "rloo") for k in range(horizon)]
    advantages = [np.array([columns[k][i] for k in range(len(r))]) for i, r in enumerate(returns)]
    return Advantages(advantages, returns)


def episode_estimator(inputs: AdvantageInputs, *, baseline: str = "rloo", **_: Any) -> Advantages:
    """GRPO: the episode's (discounted) return minus its group baseline, broadcast to every turn."""
    returns = [discounted_returns(r, g, nv) for r, g, nv in zip(inputs.rewards, inputs.gammas, inputs.next_values)]
    scores = np.array([r[0] if len(r) else 0.0 for r in returns])
    episode = group_advantages(scores, inputs.group_ids, baseline)
    return Advantages([np.full(len(r), a) for r, a in zip(returns, episode)], returns)


def gae_estimator(inputs: AdvantageInputs, *, lam: float = 0.95, **_: Any) -> Advantages:
    """GAE on per-turn values; value targets are ``advantages + values``."""
    if inputs.values is None:
        raise ValueError("the gae estimator needs per-turn values from a value head")
    advantages = [gae(r, v, g, lam=lam, next_value=nv)
                  for r, v, g, nv in zip(inputs.rewards, inputs.values, inputs.gammas, inputs.next_values)]
    return Advantages(advantages, [a + v for a, v in zip(advantages, inputs.values)])


ESTIMATORS: dict[str, Callable[..., Advantages]] = {
    "turn": turn_estimator,
    "episode": episode_estimator,
    "gae": gae_estimator,
}


def advantage_inputs(trajectories: Sequence[Any], *, gamma: float = 1.0, values: Sequence[np.ndarray] | None = None,
                     next_values: Sequence[float] | None = None) -> AdvantageInputs:
    """Read the estimators' inputs out of trajectories through the reward-field contract.

    ``next_values`` defaults to 0 for every trajectory (no bootstrap); a trainer passes the critic's
    value of each truncated episode's final observation.
    """
    has_step = any("step_reward" in turn.fields for t in trajectories for turn in t.turns)
    return AdvantageInputs(
        rewards=[t.field_array("reward") for t in trajectories],
        gammas=[t.field_array("gamma", default=gamma) for t in trajectories],
        group_ids=[t.group_id for t in trajectories],
        next_values=[float(v) for v in next_values] if next_values is not None else [0.0] * len(trajectories),
        values=[np.asarray(v, dtype=np.float64) for v in values] if values is not None else None,
        step_rewards=[t.field_array("step_reward", default=0.0) for t in trajectories] if has_step else None,
    )


def batch_advantages(trajectories: Sequence[Any], estimator: str = "turn", *, gamma: float = 1.0,
                     baseline: str = "rloo", lam: float = 0.95, values: Sequence[np.ndarray] | None = None,
                     next_values: Sequence[float] | None = None, step_weight: float = 1.0,
                     normalize: bool = False) -> Advantages:
    """Advantages of a trajectory batch with one estimator; OPRL's step term is added (weighted by
    ``step_weight``) when turns carry ``fields["step_reward"]``; ``normalize`` divides by the batch std."""
    if estimator not in ESTIMATORS:
        raise ValueError(f"unknown advantage estimator {estimator!r}; choose one of {', '.join(ESTIMATORS)}")
    inputs = advantage_inputs(trajectories, gamma=gamma, values=values, next_values=next_values)
    result = ESTIMATORS[estimator](inputs, baseline=baseline, lam=lam)
    if inputs.step_rewards is not None and step_weight:
        steps = oprl_advantages(np.zeros(len(inputs.group_ids)), inputs.step_rewards, inputs.group_ids)
        result.advantages = [a + step_weight * s for a, s in zip(result.advantages, steps)]
    if normalize:
        flat = np.concatenate(result.advantages) if result.advantages else np.zeros(0)
        scale = flat.std() if flat.size > 1 else 0.0
        if scale > 1e-8:
            result.advantages = [a / scale for a in result.advantages]
    return result
