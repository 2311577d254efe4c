"""Advantage and return math, against numbers worked by hand."""

from __future__ import annotations

import numpy as np
import pytest

from agentrl.core.trajectory import Trajectory, Turn
from agentrl.train.advantages import (
    ESTIMATORS,
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


def test_discounted_returns_bootstraps_from_next_value():
    # G1 = 1 + .5*4 = 3; G0 = 1 + .5*3 = 2.5
    np.testing.assert_allclose(discounted_returns([1, 1], 0.5, next_value=4.0), [2.5, 3.0])


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
        gae(rewards, values, gammas, lam=1.0, next_value=0.4),
        discounted_returns(rewards, gammas, next_value=0.4) - np.array(values),
    )
    # lam = 0: one-step TD errors
    next_values = np.array(values[1:] + [0.4])
    td = np.array(rewards) + np.array(gammas) * next_values - np.array(values)
    np.testing.assert_allclose(gae(rewards, values, gammas, lam=0.0, next_value=0.4), td)


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




# ------------------------------------------------------------------------- estimators on batches
def traj(rewards, group="g", gammas=None, steps=None):
    turns = [Turn(observation="o", action="a", reward=r) for r in rewards]
    for i, turn in enumerate(turns):
        if gammas is not None:
            turn.fields["gamma"] = gammas[i]
        if steps is not None:
            turn.fields["step_reward"] = steps[i]
    return Trajectory(turns=turns, group_id=group)


def test_turn_estimator_uses_leave_one_out_baseline_at_each_turn_index():
    # A rewards [1, 1, 1] -> G = [3, 2, 1];  B rewards [0, 2] -> G = [2, 2];  C rewards [5] -> G = [5]
    a, b, c = traj([1, 1, 1]), traj([0, 2]), traj([5])
    out = batch_advantages([a, b, c], "turn")
    # turn 0 baselines: A: (2+5)/2 = 3.5 ; B: (3+5)/2 = 4 ; C: (3+2)/2 = 2.5
    # turn 1 (ended members count 0): A: (2+0)/2 = 1 ; B: (2+0)/2 = 1
    # turn 2: A: (0+0)/2 = 0
    np.testing.assert_allclose(out.advantages[0], [3 - 3.5, 2 - 1, 1 - 0])
    np.testing.assert_allclose(out.advantages[1], [2 - 4, 2 - 1])
    np.testing.assert_allclose(out.advantages[2], [5 - 2.5])
    np.testing.assert_allclose(out.returns[0], [3, 2, 1])


def test_groups_do_not_mix_and_lone_trajectories_get_zero():
    out = batch_advantages([traj([1], "x"), traj([0], "x"), traj([7], "y")], "turn")
    np.testing.assert_allclose(np.concatenate(out.advantages), [1.0, -1.0, 0.0])
    lone = batch_advantages([traj([1.0, 2.0], "solo")], "episode")
    np.testing.assert_allclose(lone.advantages[0], [0.0, 0.0])


def test_per_turn_gammas_from_ads_are_used():
    # G_1 = 2 ; G_0 = 1 + 0.5 * 2 = 2
    out = batch_advantages([traj([1, 2], gammas=[0.5, 0.9]), traj([0, 0])], "turn", gamma=1.0)
    np.testing.assert_allclose(out.returns[0], [2.0, 2.0])


def test_episode_estimator_broadcasts_the_group_baselined_return():
    # A: rewards [0, 1], gamma .5 -> G0 = .5;  B: [0, 0, 0] -> G0 = 0
    batch = [traj([0.0, 1.0], gammas=[0.5, 0.5]), traj([0.0, 0.0, 0.0], gammas=[0.5] * 3)]
    rloo = batch_advantages(batch, "episode", baseline="rloo")  # 2 * (x - .25)
    np.testing.assert_allclose(rloo.advantages[0], [0.5, 0.5])
    np.testing.assert_allclose(rloo.advantages[1], [-0.5, -0.5, -0.5])
    mean = batch_advantages(batch, "episode", baseline="mean")
    np.testing.assert_allclose(mean.advantages[0], [0.25, 0.25])
    std = np.std([0.5, 0.0], ddof=1)
    scaled = batch_advantages(batch, "episode", baseline="mean_std")
    np.testing.assert_allclose(scaled.advantages[0], [0.25 / std] * 2, rtol=1e-4)


def test_gae_bootstraps_from_the_next_state_value_only_where_given():
    values = [np.array([1.0, 1.0]), np.array([1.0, 1.0])]
    done, cut = traj([0, 1]), traj([0, 1])
    # the truncated episode's final observation is worth 3 (not the last acted state's 1)
    out = batch_advantages([done, cut], "gae", values=values, next_values=[0.0, 3.0], lam=1.0)
    np.testing.assert_allclose(out.advantages[0], [0.0, 0.0])  # returns [1, 1] - values
    np.testing.assert_allclose(out.advantages[1], [3.0, 3.0])  # returns [4, 4] - values
    np.testing.assert_allclose(out.returns[1], [4.0, 4.0])
    with pytest.raises(ValueError, match="value head"):
        batch_advantages([done], "gae")


def test_next_value_bootstraps_the_monte_carlo_estimators_too():
    out = batch_advantages([traj([1.0]), traj([1.0])], "turn", next_values=[2.0, 0.0])
    np.testing.assert_allclose(out.returns[0], [3.0])
    np.testing.assert_allclose(np.concatenate(out.advantages), [2.0, -2.0])


def test_oprl_step_rewards_add_a_weighted_rloo_term():
    batch = [traj([1], steps=[0.5]), traj([0], steps=[-0.5])]
    out = batch_advantages(batch, "turn", step_weight=2.0)
    np.testing.assert_allclose(out.advantages[0], [1.0 + 2.0 * 1.0])
    np.testing.assert_allclose(out.advantages[1], [-1.0 - 2.0 * 1.0])
    off = batch_advantages(batch, "turn", step_weight=0.0)
    np.testing.assert_allclose(np.concatenate(off.advantages), [1.0, -1.0])


def test_normalisation_scales_to_unit_std():
    out = batch_advantages([traj([3]), traj([0]), traj([1])], "turn", normalize=True)
    assert np.isclose(np.concatenate(out.advantages).std(), 1.0)


def test_unknown_estimator_lists_the_choices():
    with pytest.raises(ValueError, match=", ".join(ESTIMATORS)):
        batch_advantages([traj([1])], "vtrace")
