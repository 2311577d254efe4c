"""Advantage and return math, against numbers worked by hand."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from agentrl.core.trajectory import Trajectory, TrajectoryBatch, Turn
from agentrl.train.advantages import (
    batch_advantages,
    discounted_returns,
    gae,
    group_advantages,
    oprl_advantages,
)


def test_discounted_returns_scalar_gamma():
    # G2 = 3; G1 = 2 + .5*3 = 3.5; G0 = 1 + .5*3.5 = 2.75
    np.testing.assert_allclose(discounted_returns([1, 2, 3], 0.5), [2.75, 3.5, 3.0])


def test_discounted_returns_per_turn_gammas():
    # gammas[t] discounts what follows turn t: G2 = 2; G1 = 0 + .5*2 = 1; G0 = 1 + .9*1 = 1.9
    np.testing.assert_allclose(discounted_returns([1, 0, 2], [0.9, 0.5, 1.0]), [1.9, 1.0, 2.0])


def test_discounted_returns_bootstraps_from_last_value():
    # G1 = 1 + .5*4 = 3; G0 = 1 + .5*3 = 2.5
    np.testing.assert_allclose(discounted_returns([1, 1], 0.5, last_value=4.0), [2.5, 3.0])


def test_discounted_returns_rejects_wrong_gamma_length():
    with pytest.raises(ValueError, match="one value per turn"):
        discounted_returns([1, 2, 3], [0.9, 0.9])


def test_gae_hand_worked():
    # delta2 = 2 + .9*0 - 1.5 = .5                A2 = .5
    # delta1 = 0 + .9*1.5 - 1 = .35               A1 = .35 + .9*.8*.5 = .71
    # delta0 = 1 + .9*1 - .5 = 1.4                A0 = 1.4 + .72*.71 = 1.9112
    advantages = gae([1, 0, 2], [0.5, 1.0, 1.5], 0.9, lam=0.8)
    np.testing.assert_allclose(advantages, [1.9112, 0.71, 0.5])


def test_gae_limits():
    rewards, values, gammas = [1.0, -1.0, 2.0, 0.5], [0.3, 0.1, -0.2, 0.7], [0.9, 0.8, 0.95, 0.99]
    # lam = 1: Monte Carlo returns minus values
    np.testing.assert_allclose(
        gae(rewards, values, gammas, lam=1.0, last_value=0.4),
        discounted_returns(rewards, gammas, last_value=0.4) - np.array(values),
    )
    # lam = 0: one-step TD errors
    next_values = np.array(values[1:] + [0.4])
    td = np.array(rewards) + np.array(gammas) * next_values - np.array(values)
    np.testing.assert_allclose(gae(rewards, values, gammas, lam=0.0, last_value=0.4), td)


def test_group_advantages_modes_hand_worked():
    scores = [1.0, 2.0, 3.0, 10.0, 10.0, 7.0]
    groups = ["a", "a", "a", "b", "b", "c"]
    np.testing.assert_allclose(group_advantages(scores, groups, "mean"), [-1, 0, 1, 0, 0, 0])
    # std([1,2,3], ddof=1) = 1; group b has std 0 -> 0; the lone group c -> 0
    np.testing.assert_allclose(group_advantages(scores, groups, "mean_std"), [-1, 0, 1, 0, 0, 0], atol=1e-5)
    # n/(n-1) * (x - mean) = 1.5 * [-1, 0, 1]
    np.testing.assert_allclose(group_advantages(scores, groups, "rloo"), [-1.5, 0, 1.5, 0, 0, 0])


def test_rloo_is_x_minus_mean_of_the_others():
    rng = np.random.default_rng(0)
    scores = rng.normal(size=12)
    groups = [i % 3 for i in range(12)]
    out = group_advantages(scores, groups, "rloo")
    for i in range(12):
        others = [scores[j] for j in range(12) if groups[j] == groups[i] and j != i]
        assert out[i] == pytest.approx(scores[i] - np.mean(others))


def test_group_advantages_unknown_mode_lists_choices():
    with pytest.raises(ValueError, match="mean, mean_std, rloo"):
        group_advantages([1.0], ["a"], "median")


def test_torch_in_torch_out():
    rewards = torch.tensor([1.0, 2.0, 3.0], dtype=torch.float32)
    out = discounted_returns(rewards, torch.tensor(0.5))
    assert isinstance(out, torch.Tensor) and out.dtype == torch.float32
    torch.testing.assert_close(out, torch.tensor([2.75, 3.5, 3.0]))
    adv = group_advantages(torch.tensor([1.0, 2.0, 3.0]), ["g"] * 3, "rloo")
    torch.testing.assert_close(adv, torch.tensor([-1.5, 0.0, 1.5]))
    assert isinstance(gae(rewards, torch.zeros(3), 1.0, 1.0), torch.Tensor)


def test_oprl_advantages_hand_worked():
    # episode part: outcomes [1, 0, 0], mean 1/3, RLOO 1.5 * (x - 1/3) = [1, -.5, -.5]
    # step part: six turns pooled, mean 0.5/6, RLOO 1.2 * (x - 1/12) = [.5, 1.1 | -1.3 | -.1, .5, -.7]
    steps = [np.array([0.5, 1.0]), np.array([-1.0]), np.array([0.0, 0.5, -0.5])]
    out = oprl_advantages([1.0, 0.0, 0.0], steps, ["g", "g", "g"], weight=1.0)
    np.testing.assert_allclose(out[0], [1.5, 2.1])
    np.testing.assert_allclose(out[1], [-1.8])
    np.testing.assert_allclose(out[2], [-0.6, 0.0, -1.2])
    half = oprl_advantages([1.0, 0.0, 0.0], steps, ["g", "g", "g"], weight=0.5)
    np.testing.assert_allclose(half[0], [1.25, 1.55])


def test_oprl_advantages_groups_are_separate():
    out = oprl_advantages(
        [1.0, 0.0, 5.0], [np.array([1.0]), np.array([0.0]), np.array([9.0])], ["a", "a", "b"]
    )
    # group a (n = 2, so RLOO = 2 * (x - mean)): outcomes [1, 0] -> [1, -1], steps [1, 0] -> [1, -1];
    # the lone group b has no baseline -> 0
    np.testing.assert_allclose(np.concatenate(out), [2.0, -2.0, 0.0])


def _trajectory(rewards, group, gamma=None, step=None) -> Trajectory:
    turns = []
    for i, r in enumerate(rewards):
        fields = {"reward": r}
        if gamma is not None:
            fields["gamma"] = gamma
        if step is not None:
            fields["step_reward"] = step[i]
        turns.append(Turn(observation="o", action="a", reward=0.0, fields=fields))
    return Trajectory(turns=turns, group_id=group)


def test_batch_advantages_hand_worked():
    # A: rewards [0, 1], gamma .5 -> G = [.5, 1];  B: [0, 0, 0] -> G = [0, 0, 0]
    batch = TrajectoryBatch([_trajectory([0.0, 1.0], "g", 0.5), _trajectory([0.0, 0.0, 0.0], "g", 0.5)])
    rloo = batch_advantages(batch, baseline="rloo")  # baselines: other's G0 -> 0 for A, .5 for B
    np.testing.assert_allclose(rloo[0], [0.5, 1.0])
    np.testing.assert_allclose(rloo[1], [-0.5, -0.5, -0.5])
    mean = batch_advantages(batch, baseline="mean")  # group mean of G0 = .25
    np.testing.assert_allclose(mean[0], [0.25, 0.75])
    np.testing.assert_allclose(mean[1], [-0.25] * 3)
    std = np.std([0.5, 0.0], ddof=1)  # = .353553
    scaled = batch_advantages(batch, baseline="mean_std", eps=0.0)
    np.testing.assert_allclose(scaled[0], [0.25 / std, 0.75 / std])


def test_batch_advantages_adds_weighted_step_term():
    batch = TrajectoryBatch(
        [
            _trajectory([1.0], "g", step=[1.0]),
            _trajectory([0.0], "g", step=[-1.0]),
        ]
    )
    # episode RLOO: [1, -1]; step RLOO over the two turns: [2, -2]; w = .5 -> [2, -2]
    out = batch_advantages(batch, baseline="rloo", step_weight=0.5)
    np.testing.assert_allclose(np.concatenate(out), [2.0, -2.0])


def test_batch_advantages_lone_trajectory_gets_zero():
    out = batch_advantages(TrajectoryBatch([_trajectory([1.0, 2.0], "solo")]))
    np.testing.assert_allclose(out[0], [0.0, 0.0])
