"""ADS: the discount formula, the LIS progress recogniser, horizon growth by hand, invariants."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from reward_helpers import trajectory

from agentrl.core.config import ConfigError
from agentrl.core.trajectory import Trajectory, TrajectoryBatch, Turn
from agentrl.rewards import AutoDiscountSchedule
from agentrl.rewards.ads import (
    alignment_score,
    discount_for,
    distance_matrix,
    longest_increasing_subsequence,
    percentile,
)
from agentrl.train.advantages import discounted_returns


def states_trajectory(states, task="t", success=False) -> Trajectory:
    """An episode that passes through ``states`` (initial first, final last)."""
    turns = [Turn(observation=s, action="a") for s in states[:-1]]
    return Trajectory(turns=turns, final_observation=states[-1], task_id=task, group_id=task, success=success)


def progress_trajectory(progress, success) -> Trajectory:
    traj = trajectory([{}] * len(progress), success=success)
    for turn, value in zip(traj.turns, progress):
        turn.info["progress"] = value
    return traj


def test_discount_formula():
    # H = 20 -> p = int(.2 * 20) = 4 -> gamma = .2 ** (1/4)
    assert discount_for(4) == pytest.approx(0.6687403050)
    stage = AutoDiscountSchedule(horizon=20, update=False)
    batch = stage(TrajectoryBatch([trajectory([{}] * 3)]))
    assert [t.fields["gamma"] for t in batch.turns()] == [pytest.approx(0.6687403050)] * 3
    assert batch.metrics["ads/horizon"] == 4


@pytest.mark.parametrize(
    "values, length", [([3, 1, 2, 2, 5, 4], 3), ([0, 0, 0], 1), ([], 0), ([0, 1, 2, 3], 4)]
)
def test_longest_strictly_increasing_subsequence(values, length):
    assert longest_increasing_subsequence(values) == length


def test_percentile_matches_numpy():
    rng = np.random.default_rng(3)
    for n in (1, 2, 7, 50):
        values = rng.normal(size=n).tolist()
        for q in (0, 37.5, 50, 90, 100):
            assert percentile(values, q) == pytest.approx(float(np.percentile(values, q)))


def test_distances():
    # hamming: differing characters over the overlap plus the length difference
    np.testing.assert_array_equal(distance_matrix(["ab", "abc"], ["ac", "ab", ""]), [[1, 0, 2], [2, 1, 3]])
    np.testing.assert_array_equal(distance_matrix(["ab"], ["ab", "ac"], "exact"), [[0, 1]])


def test_alignment_score_by_hand():
    demo = ["s0", "A", "B", "C", "D"]
    agent = ["s0", "A", "A", "B", "X"]
    # first 4 agent states [A, A, B, X] -> nearest demo index [0, 0, 1, 0] (X matches none: first) -> LIS 2
    assert alignment_score(agent, demo, 4, "exact") == 2
    assert alignment_score(demo, demo, 4, "exact") == 4
    # an episode shorter than p is padded with its final state
    assert alignment_score(["s0", "A"], demo, 3, "exact") == 1


def line(n):
    """Distinct, equal-length states s0..sn."""
    return [f"state-{i:03d}" for i in range(n + 1)]


def test_horizon_grows_at_most_five_per_update_when_the_demo_is_followed():
    demo = line(30)
    stage = AutoDiscountSchedule(horizon=30, demonstrations=[demo])
    assert stage.progress == 6  # int(.2 * 30)
    batch = stage(TrajectoryBatch([states_trajectory(demo)]))
    assert stage.progress == 11 and batch.metrics["ads/increase"] == 5
    assert batch.metrics["ads/gamma"] == pytest.approx(0.2 ** (1 / 11))
    stage(TrajectoryBatch([states_trajectory(demo)]))
    assert stage.progress == 16
    for _ in range(5):
        stage(TrajectoryBatch([states_trajectory(demo)]))
    assert stage.progress == 30  # capped at H


def test_horizon_stops_where_the_agent_stops_following():
    demo = line(30)
    # follows the demo for 7 steps, then stays put
    agent = demo[:8] + [demo[7]] * 23
    stage = AutoDiscountSchedule(horizon=30, demonstrations={"t": [demo]})
    stage(TrajectoryBatch([states_trajectory(agent)]))
    # p=6: LIS 6 >= int(.9*6)=5 -> 7: LIS 7 >= int(6.3)=6 -> 8: LIS 7 >= int(7.2)=7 -> 9: LIS 7 < int(8.1)=8
    assert stage.progress == 9


def test_progress_source_by_hand():
    # H = 10 -> p = 2. Agent score: 90th percentile over all; reference: median over successes.
    successes = [progress_trajectory([0.5, 1.0], True), progress_trajectory([0.0, 0.5, 1.0], True)]
    few_failures = [progress_trajectory([0.0] * 10, False)]
    stage = AutoDiscountSchedule(horizon=10)
    batch = stage(TrajectoryBatch(successes + few_failures))
    # p=2: values [1, .5, 0] -> agent .9 >= .9 * median(1, .5) = .675 -> grow; p>=3: [1, 1, 0] -> 1 >= .9
    assert batch.metrics["ads/increase"] == 5 and stage.progress == 7
    many_failures = [progress_trajectory([0.0] * 10, False) for _ in range(9)]
    stage = AutoDiscountSchedule(horizon=10)
    batch = stage(TrajectoryBatch(successes + many_failures))
    # p=2: 9 zeros, .5, 1 -> 90th percentile .5 < .675 -> stay
    assert stage.progress == 2 and batch.metrics["ads/agent_score"] == pytest.approx(0.5)
    assert batch.metrics["ads/reference_score"] == pytest.approx(0.75)


def test_subgoal_source():
    def subgoal_trajectory(achieved_at, success):
        traj = trajectory([{}] * 6, success=success)
        traj.info["subgoals"] = ["key", "door"]
        for i, turn in enumerate(traj.turns):
            turn.info["subgoals"] = {"key": i == achieved_at.get("key"), "door": i == achieved_at.get("door")}
        return traj

    stage = AutoDiscountSchedule(horizon=10, progress_source="subgoals", max_increase=1)
    # p=2: success reached 1/2 (key at turn 0); agent 90th pct of [.5, .5] = .5 >= .45 -> grow to 3
    batch = TrajectoryBatch(
        [subgoal_trajectory({"key": 0, "door": 4}, True), subgoal_trajectory({"key": 1}, False)]
    )
    stage(batch)
    assert stage.progress == 3


def test_no_success_means_no_reference_and_no_growth():
    stage = AutoDiscountSchedule(horizon=10)
    batch = stage(TrajectoryBatch([progress_trajectory([0.5, 1.0], False)]))
    assert stage.progress == 2 and batch.metrics["ads/no_reference"] == 1.0


def test_gamma_one_leaves_returns_unchanged():
    batch = TrajectoryBatch([trajectory([{"r": 1.0}, {"r": -2.0}, {"r": 0.5}, {"r": 3.0}])])
    AutoDiscountSchedule(alpha=1.0)(batch)
    traj = batch[0]
    gammas = traj.field_array("gamma")
    assert np.all(gammas == 1.0)
    np.testing.assert_allclose(discounted_returns(traj.field_array("reward"), gammas), [2.5, 1.5, 3.5, 3.0])
    np.testing.assert_allclose(
        discounted_returns(traj.field_array("reward"), gammas),
        discounted_returns(traj.field_array("reward"), 1.0),
    )


def test_horizon_inferred_from_the_first_batch():
    stage = AutoDiscountSchedule(update=False)
    stage(TrajectoryBatch([trajectory([{}] * 15), trajectory([{}] * 4)]))
    assert stage.horizon == 15 and stage.progress == 3


def test_state_dict_resumes_exactly():
    demo = line(30)
    straight = AutoDiscountSchedule(horizon=30, demonstrations=[demo])
    straight(TrajectoryBatch([states_trajectory(demo)]))
    resumed = AutoDiscountSchedule(horizon=30, demonstrations=[demo])
    resumed.load_state_dict(copy.deepcopy(straight.state_dict()))
    a = straight(TrajectoryBatch([states_trajectory(demo)]))
    b = resumed(TrajectoryBatch([states_trajectory(demo)]))
    assert a.metrics == b.metrics and straight.state_dict() == resumed.state_dict()


def test_bad_settings_are_clear_errors():
    with pytest.raises(ConfigError, match="alpha"):
        AutoDiscountSchedule(alpha=0.0)
    with pytest.raises(ConfigError, match="demonstrations"):
        AutoDiscountSchedule(progress_source="demonstrations")
    with pytest.raises(ConfigError, match="hamming"):
        AutoDiscountSchedule(distance="cosine")
