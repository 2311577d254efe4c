"""Return and advantage math: pure functions, numpy or torch in, the same kind out.

Nothing here holds trainer state. A discount schedule is always an argument: ``gammas`` is a
scalar or one value per turn, where ``gammas[t]`` discounts what follows turn ``t`` (the ADS stage
writes it as ``turn.fields["gamma"]``).

* :func:`discounted_returns` -- ``G_t = r_t + gamma_t * G_{t+1}``.
* :func:`gae` -- generalised advantage estimation with per-turn discounts.
* :func:`group_advantages` -- GRPO-style group baselines: ``mean``, ``mean_std`` or ``rloo``
  (leave-one-out: ``n/(n-1) * (x - group mean)``, i.e. ``x`` minus the mean of the others).
* :func:`oprl_advantages` -- OPRL's ``A = A_episode + w * A_step``, both with the RLOO baseline.
* :func:`batch_advantages` -- the above applied to a ``TrajectoryBatch`` through the reward-field
  contract (``fields["reward"]``, ``fields["gamma"]``, ``fields["step_reward"]``).
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any, Hashable, Sequence

import numpy as np

BASELINES = ("mean", "mean_std", "rloo")


def _to_numpy(values: Any) -> np.ndarray:
    if hasattr(values, "detach"):
        return values.detach().cpu().double().numpy()
    return np.asarray(values, dtype=np.float64)


def _like(result: np.ndarray, template: Any) -> Any:
    """Return ``result`` as a torch tensor when ``template`` is one (same dtype and device)."""
    if hasattr(template, "detach"):
        import torch

        dtype = template.dtype if template.is_floating_point() else torch.float32
        return torch.as_tensor(result, dtype=dtype, device=template.device)
    return result


def _per_turn(gammas: Any, n: int, name: str = "gammas") -> np.ndarray:
    array = _to_numpy(gammas)
    if array.ndim == 0:
        return np.full(n, float(array))
    if array.shape != (n,):
        raise ValueError(f"{name} must be a scalar or have one value per turn ({n}), got shape {array.shape}")
    return array


def discounted_returns(rewards: Any, gammas: Any = 1.0, last_value: float = 0.0) -> Any:
    """Reward-to-go ``G_t = r_t + gamma_t * G_{t+1}``, with ``G_T = last_value`` (0 at a true end)."""
    r = _to_numpy(rewards)
    g = _per_turn(gammas, len(r))
    out = np.empty_like(r)
    running = float(last_value)
    for t in range(len(r) - 1, -1, -1):
        running = r[t] + g[t] * running
        out[t] = running
    return _like(out, rewards)


def gae(rewards: Any, values: Any, gammas: Any = 1.0, lam: float = 1.0, last_value: float = 0.0) -> Any:
    """GAE advantages: ``delta_t = r_t + gamma_t V_{t+1} - V_t``, ``A_t = delta_t + gamma_t lam A_{t+1}``.

    ``last_value`` is ``V`` after the final turn (0 when the episode terminated, the critic's
    estimate when it was truncated). Value targets are ``advantages + values``. With ``lam=1`` this
    is ``discounted_returns - values``; with ``lam=0`` it is the one-step TD error.
    """
    r = _to_numpy(rewards)
    v = _to_numpy(values)
    if v.shape != r.shape:
        raise ValueError(f"values must match rewards in shape, got {v.shape} and {r.shape}")
    g = _per_turn(gammas, len(r))
    out = np.empty_like(r)
    running, next_value = 0.0, float(last_value)
    for t in range(len(r) - 1, -1, -1):
        delta = r[t] + g[t] * next_value - v[t]
        running = delta + g[t] * lam * running
        out[t] = running
        next_value = v[t]
    return _like(out, rewards)


def _group_indices(group_ids: Sequence[Hashable]) -> list[np.ndarray]:
    groups: dict[Hashable, list[int]] = defaultdict(list)
    for index, gid in enumerate(group_ids):
        groups[gid].append(index)
    return [np.asarray(indices) for indices in groups.values()]


def group_advantages(
    scores: Any, group_ids: Sequence[Hashable], mode: str = "mean", eps: float = 1e-6
) -> Any:
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
    return _like(out, scores)


def oprl_advantages(
    episode_scores: Any,
    step_rewards: Sequence[Any],
    group_ids: Sequence[Hashable],
    weight: float = 1.0,
) -> list[Any]:
    """OPRL's per-turn advantage ``A_t = A_episode + weight * A_step,t``.

    ``A_episode`` is the RLOO advantage of each trajectory's outcome within its group, the same for
    every turn of the trajectory. ``A_step,t`` is the RLOO advantage of turn ``t``'s (normalised)
    step reward among all turns of the trajectories in the same group. Returns one array per
    trajectory.
    """
    if not (len(step_rewards) == len(group_ids) == len(_to_numpy(episode_scores))):
        raise ValueError("episode_scores, step_rewards and group_ids need one entry per trajectory")
    episode = _to_numpy(group_advantages(_to_numpy(episode_scores), group_ids, "rloo"))
    lengths = [len(_to_numpy(s)) for s in step_rewards]
    flat = np.concatenate([_to_numpy(s) for s in step_rewards]) if step_rewards else np.zeros(0)
    turn_groups = [gid for gid, n in zip(group_ids, lengths) for _ in range(n)]
    step = _to_numpy(group_advantages(flat, turn_groups, "rloo"))
    out, start = [], 0
    for i, n in enumerate(lengths):
        out.append(_like(episode[i] + weight * step[start : start + n], step_rewards[i]))
        start += n
    return out


def batch_advantages(
    batch: Any,
    *,
    baseline: str = "rloo",
    step_weight: float = 1.0,
    gamma: float = 1.0,
    eps: float = 1e-6,
) -> list[np.ndarray]:
    """Per-turn advantages of a ``TrajectoryBatch`` from its reward fields (one array per trajectory).

    The episode part takes each turn's return-to-go ``G_t`` of ``fields["reward"]``, discounted by
    ``fields["gamma"]`` (``gamma`` where a turn has none), minus a baseline computed from the start
    returns ``G_0`` of the group: the mean of the *other* members for ``rloo``, the group mean for
    ``mean`` and ``mean_std`` (which then divides by the group's unbiased std). A baseline that does
    not depend on the trajectory's own actions keeps the gradient unbiased; a trajectory alone in its
    group has no such baseline and gets 0 for this part. When turns carry
    ``fields["step_reward"]`` (OPRL), ``step_weight`` times its RLOO advantage is added.
    """
    if baseline not in BASELINES:
        raise ValueError(f"unknown baseline mode {baseline!r}; choose one of {', '.join(BASELINES)}")
    trajectories = list(batch)
    groups = [t.group_id for t in trajectories]
    returns = [
        _to_numpy(discounted_returns(t.field_array("reward"), t.field_array("gamma", default=gamma)))
        for t in trajectories
    ]
    starts = np.array([g[0] if len(g) else 0.0 for g in returns])
    base, scale = _group_baselines(starts, groups, baseline, eps)
    out = [(g - b) / s if np.isfinite(s) else np.zeros_like(g) for g, b, s in zip(returns, base, scale)]
    step_adv = step_advantages(trajectories, groups)
    if step_adv is not None:
        out = [e + step_weight * s for e, s in zip(out, step_adv)]
    return out


def step_advantages(trajectories: Sequence[Any], groups: Sequence[Hashable]) -> list[np.ndarray] | None:
    """OPRL's step term: the RLOO advantage of each turn's ``fields["step_reward"]`` (0 where a turn
    has none) among the turns of its group, one array per trajectory; None when no turn has one."""
    if not any("step_reward" in turn.fields for t in trajectories for turn in t.turns):
        return None
    steps = [t.field_array("step_reward", default=0.0) for t in trajectories]
    return oprl_advantages(np.zeros(len(trajectories)), steps, groups)


def _group_baselines(starts: np.ndarray, groups: Sequence[Hashable], baseline: str, eps: float):
    """Per-trajectory baseline and scale; a lone trajectory has no baseline (scale inf: advantage 0)."""
    base = starts.copy()
    scale = np.ones_like(starts)
    for indices in _group_indices(groups):
        values = starts[indices]
        n = len(values)
        if n == 1:
            scale[indices] = np.inf
            continue
        if baseline == "rloo":
            base[indices] = (values.sum() - values) / (n - 1)
        else:
            base[indices] = values.mean()
        if baseline == "mean_std":
            scale[indices] = values.std(ddof=1) + eps
    return base, scale
