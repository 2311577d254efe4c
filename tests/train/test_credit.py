import numpy as np
import pytest

from agentrl.core.trajectory import Trajectory, Turn
from agentrl.train.credit import compute_credit


def traj(rewards, group="g", gammas=None, truncated=False):
    turns = [Turn(observation="o", action="a", reward=r) for r in rewards]
    if gammas:
        for turn, g in zip(turns, gammas):
            turn.fields["gamma"] = g
    if truncated:
        turns[-1].truncated = True
    return Trajectory(turns=turns, group_id=group)


def test_turn_credit_uses_leave_one_out_baseline_at_each_turn_index():
    # Returns-to-go (gamma 1): a = [3, 2, 1]... worked by hand:
    # A rewards [1, 1, 1] -> G = [3, 2, 1];  B rewards [0, 2] -> G = [2, 2];  C rewards [5] -> G = [5]
    a, b, c = traj([1, 1, 1]), traj([0, 2]), traj([5])
    credit = compute_credit([a, b, c], "turn", normalize=False)
    # turn 0 baselines: A: (2+5)/2 = 3.5 ; B: (3+5)/2 = 4 ; C: (3+2)/2 = 2.5
    # turn 1 (ended members count 0): A: (2+0)/2 = 1 ; B: (2+0)/2 = 1
    # turn 2: A: (0+0)/2 = 0
    assert np.allclose(credit.advantages[0], [3 - 3.5, 2 - 1, 1 - 0])
    assert np.allclose(credit.advantages[1], [2 - 4, 2 - 1])
    assert np.allclose(credit.advantages[2], [5 - 2.5])
    assert np.allclose(credit.returns[0], [3, 2, 1])


def test_groups_do_not_mix_and_lone_trajectories_get_zero():
    credit = compute_credit([traj([1], "x"), traj([0], "x"), traj([7], "y")], "turn", normalize=False)
    assert np.allclose(credit.advantages[0], [1.0]) and np.allclose(credit.advantages[1], [-1.0])
    assert np.allclose(credit.advantages[2], [0.0])


def test_per_turn_gammas_from_ads_are_used():
    # G_1 = 2 ; G_0 = 1 + 0.5 * 2 = 2
    credit = compute_credit([traj([1, 2], gammas=[0.5, 0.9]), traj([0, 0])], "turn", normalize=False)
    assert np.allclose(credit.returns[0], [2.0, 2.0])


def test_episode_credit_broadcasts_group_normalised_return():
    credit = compute_credit([traj([1, 1]), traj([0])], "episode", baseline="rloo", normalize=False)
    assert np.allclose(credit.advantages[0], [2.0, 2.0]) and np.allclose(credit.advantages[1], [-2.0])


def test_gae_credit_bootstraps_only_truncated_episodes():
    values = [np.array([1.0, 1.0]), np.array([1.0, 1.0])]
    done = traj([0, 1])
    cut = traj([0, 1], truncated=True)
    credit = compute_credit([done, cut], "gae", values=values, lam=1.0, gamma=1.0, normalize=False)
    assert np.allclose(credit.advantages[0], [0.0, 0.0])  # returns [1, 1] - values
    assert np.allclose(credit.advantages[1], [1.0, 1.0])  # returns [2, 2] with V(after) = 1
    with pytest.raises(ValueError, match="value head"):
        compute_credit([done], "gae")


def test_oprl_step_rewards_add_weighted_rloo_term():
    a, b = traj([1]), traj([0])
    a.turns[0].fields["step_reward"] = 0.5
    b.turns[0].fields["step_reward"] = -0.5
    credit = compute_credit([a, b], "turn", step_weight=2.0, normalize=False)
    assert np.allclose(credit.advantages[0], [1.0 + 2.0 * 1.0])
    assert np.allclose(credit.advantages[1], [-1.0 - 2.0 * 1.0])


def test_normalisation_scales_to_unit_std():
    credit = compute_credit([traj([3]), traj([0]), traj([1])], "turn")
    assert np.isclose(np.concatenate(credit.advantages).std(), 1.0)
