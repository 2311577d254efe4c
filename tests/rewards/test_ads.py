"""ADS: the discount formula, the LIS progress recogniser, horizon growth by hand, invariants."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from reward_helpers import trajectory

from agentrl.core.config import ConfigError
from agentrl.core.trajectory import Trajectory, TrajectoryBatch, Turn
from agentrl.rewards import AutoDiscountSchedule
from agentrl.rewards.base import TrainingContext
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
    # first 4 agent observations [s0, A, A, B] -> nearest demo index [0, 1, 1, 2] -> LIS 3
    assert alignment_score(agent, demo, 4, "exact") == 3
    assert alignment_score(demo, demo, 4, "exact") == 4
    # [s0, A, X, X]: X matches nothing, argmin takes index 0 -> [0, 1, 0, 0] -> LIS 2
    assert alignment_score(["s0", "A", "X", "X"], demo, 4, "exact") == 2
    # an episode shorter than p is padded with its last observation: [s0, A, A] -> [0, 1, 1] -> 2
    assert alignment_score(["s0", "A"], demo, 3, "exact") == 2


def line(n):
    """Distinct, equal-length states s0..sn."""
    return [f"state-{i:03d}" for i in range(n + 1)]


def test_horizon_grows_at_most_five_per_evaluation_when_the_demo_is_followed():
    demo = line(30)
    stage = AutoDiscountSchedule(horizon=30, demonstrations=[demo])
    assert stage.progress == 6  # int(.2 * 30)
    training = stage(TrajectoryBatch([states_trajectory(demo)]))
    assert stage.progress == 6 and training.metrics["ads/increase"] == 0  # training batches measure nothing
    evaluation = TrajectoryBatch([states_trajectory(demo)])
    stage.observe_evaluation(evaluation)
    assert stage.progress == 11 and evaluation.metrics["ads/increase"] == 5
    assert stage.gamma == pytest.approx(0.2 ** (1 / 11))
    for _ in range(5):
        stage.observe_evaluation(TrajectoryBatch([states_trajectory(demo)]))
    assert stage.progress == 30  # capped at H


def test_measure_on_training_moves_the_horizon_from_training_batches():
    demo = line(30)
    stage = AutoDiscountSchedule(horizon=30, demonstrations=[demo], measure_on="training")
    batch = stage(TrajectoryBatch([states_trajectory(demo)]))
    assert stage.progress == 11 and batch.metrics["ads/gamma"] == pytest.approx(0.2 ** (1 / 11))


def test_horizon_stops_where_the_agent_stops_following():
    demo = line(30)
    agent = demo[:8] + [demo[7]] * 23  # follows the demo to s7, then stays put
    stage = AutoDiscountSchedule(horizon=30, demonstrations={"t": [demo]})
    stage.observe_evaluation(TrajectoryBatch([states_trajectory(agent)]))
    # the reference is p (a demo matched to itself); the agent's first p observations:
    # p=6: LIS 6 >= int(.9*6)=5; p=7: 7 >= 6; p=8: 8 >= 7; p=9: [s0..s7, s7] -> 8 >= int(8.1)=8;
    # p=10: 8 < int(9.0)=9 -> stop
    assert stage.progress == 10


def test_expert_demonstrations_come_from_the_trainers_context():
    demo = line(30)
    stage = AutoDiscountSchedule(horizon=30, demonstrations="expert")
    stage.observe_evaluation(TrajectoryBatch([states_trajectory(demo, task="room-1")]))
    assert stage.progress == 6  # no demonstrations yet: nothing to measure against
    asked = []

    def expert_episodes():
        asked.append(1)
        return TrajectoryBatch([states_trajectory(demo, task="room-1")])

    stage.setup(TrainingContext(expert_demonstrations=expert_episodes))
    stage.observe_evaluation(TrajectoryBatch([states_trajectory(demo, task="room-1"),
                                              states_trajectory(line(3), task="room-2")]))  # room-2: no demo
    assert asked == [1] and stage.progress == 11
    with pytest.raises(ValueError, match="expert policy"):
        AutoDiscountSchedule(demonstrations="expert").setup(TrainingContext())


def test_progress_source_by_hand():
    # H = 10 -> p = 2. Reference: median over successes; agent: 90th percentile over the others.
    successes = [progress_trajectory([0.5, 1.0], True), progress_trajectory([0.0, 0.5, 1.0], True)]
    learner = [progress_trajectory([0.4, 0.8] + [0.8] * 8, False)]
    stage = AutoDiscountSchedule(horizon=10)
    evaluation = TrajectoryBatch(successes + learner)
    stage.observe_evaluation(evaluation)
    # p=2: reference median(1.0, .5) = .75, agent .8 >= .675 -> 3; p=3: reference 1.0, agent .8 < .9
    assert stage.progress == 3 and evaluation.metrics["ads/increase"] == 1
    assert evaluation.metrics["ads/agent_score"] == pytest.approx(0.8)
    assert evaluation.metrics["ads/reference_score"] == pytest.approx(1.0)


def test_successes_are_not_in_the_agent_pool():
    # the same batch fed again and again: successes alone can never show mastery
    successes = [progress_trajectory([0.5, 1.0], True) for _ in range(3)]
    failures = [progress_trajectory([0.0] * 10, False) for _ in range(17)]
    stage = AutoDiscountSchedule(horizon=10)
    for _ in range(4):
        stage.observe_evaluation(TrajectoryBatch(successes + failures))
    assert stage.progress == 2
    only_successes = TrajectoryBatch(successes)
    stage.observe_evaluation(only_successes)
    assert stage.progress == 2 and only_successes.metrics["ads/no_reference"] == 1.0


def test_subgoal_source():
    def subgoal_trajectory(achieved_at, success):
        traj = trajectory([{}] * 6, success=success)
        traj.info["subgoals"] = ["key", "door"]
        for i, turn in enumerate(traj.turns):
            turn.info["subgoals"] = {"key": i == achieved_at.get("key"), "door": i == achieved_at.get("door")}
        return traj

    stage = AutoDiscountSchedule(horizon=10, progress_source="subgoals", max_increase=1)
    # p=2: the success reached 1/2 (key at turn 0); the failure .5 (key at turn 1) >= .45 -> grow to 3
    stage.observe_evaluation(TrajectoryBatch(
        [subgoal_trajectory({"key": 0, "door": 4}, True), subgoal_trajectory({"key": 1}, False)]
    ))
    assert stage.progress == 3


def test_no_success_or_a_zero_reference_means_no_growth():
    stage = AutoDiscountSchedule(horizon=10)
    batch = TrajectoryBatch([progress_trajectory([0.5, 1.0], False)])
    stage.observe_evaluation(batch)
    assert stage.progress == 2 and batch.metrics["ads/no_reference"] == 1.0
    # successes that made no progress within p turns: a reference of 0 is no reference
    zero = TrajectoryBatch([progress_trajectory([0.0, 0.0, 1.0], True), progress_trajectory([0.0] * 5, False)])
    stage.observe_evaluation(zero)
    assert stage.progress == 2 and zero.metrics["ads/no_reference"] == 1.0


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
    straight.observe_evaluation(TrajectoryBatch([states_trajectory(demo)]))
    resumed = AutoDiscountSchedule(horizon=30, demonstrations=[demo])
    resumed.load_state_dict(copy.deepcopy(straight.state_dict()))
    a, b = TrajectoryBatch([states_trajectory(demo)]), TrajectoryBatch([states_trajectory(demo)])
    straight.observe_evaluation(a)
    resumed.observe_evaluation(b)
    assert a.metrics == b.metrics and straight.state_dict() == resumed.state_dict()
    assert straight(TrajectoryBatch([states_trajectory(demo)])).metrics["ads/gamma"] == pytest.approx(0.2 ** (1 / 16))


def test_bad_settings_are_clear_errors():
    with pytest.raises(ConfigError, match="alpha"):
        AutoDiscountSchedule(alpha=0.0)
    with pytest.raises(ConfigError, match="demonstrations"):
        AutoDiscountSchedule(progress_source="demonstrations")
    with pytest.raises(ConfigError, match="hamming"):
        AutoDiscountSchedule(distance="cosine")
    with pytest.raises(ConfigError, match="measure_on"):
        AutoDiscountSchedule(measure_on="sometimes")
    with pytest.raises(ConfigError, match="expert"):
        AutoDiscountSchedule(demonstrations="experts")
