"""G-RA: hand-worked gated returns, the multi-level gate, and the open-gate invariant."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from reward_helpers import trajectory

from agentrl.core.config import ConfigError
from agentrl.core.trajectory import TrajectoryBatch
from agentrl.rewards import GatedRewardAccumulation
from agentrl.rewards.gra import gated_return

SWE_TURNS = [
    {"format": 0.1, "tool_success": 0.2},
    {"modification": 0.5, "tests_run": 0.3},
    {"format": 0.1},
]


def swe_stage(**kwargs) -> GatedRewardAccumulation:
    return GatedRewardAccumulation(priorities={"outcome": 1}, thresholds={"outcome": 1.0}, **kwargs)


def fields(traj, name):
    return [turn.fields[name] for turn in traj.turns]


def test_two_level_gate_closed_keeps_only_the_long_term_reward():
    failed = trajectory([*SWE_TURNS[:2], {"format": 0.1, "outcome": 0.0}])
    swe_stage()(TrajectoryBatch([failed]))
    # R = r_h + 1[r_h >= 1] * sum(immediate) = 0 + 0
    np.testing.assert_allclose(fields(failed, "gra"), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(fields(failed, "dra"), [0.3, 0.8, 0.1])
    assert fields(failed, "reward") == fields(failed, "gra")


def test_two_level_gate_open_counts_everything():
    solved = trajectory([*SWE_TURNS[:2], {"format": 0.1, "outcome": 1.0}])
    swe_stage()(TrajectoryBatch([solved]))
    # per turn: [.1+.2, .5+.3, .1+1]; R = 1 + (.3 + .8 + .1) = 2.2
    np.testing.assert_allclose(fields(solved, "gra"), [0.3, 0.8, 1.1])
    assert (
        sum(fields(solved, "gra"))
        == pytest.approx(gated_return(1.0, 1.0, [0.3, 0.8, 0.1]))
        == pytest.approx(2.2)
    )


def test_outcome_read_from_trajectory_when_no_turn_reports_it():
    solved = trajectory(SWE_TURNS, success=True)  # outcome 1.0, but not among the components
    failed = trajectory(SWE_TURNS, success=False)
    batch = TrajectoryBatch([solved, failed])
    swe_stage()(batch)
    np.testing.assert_allclose(fields(solved, "gra"), [0.3, 0.8, 1.1])
    np.testing.assert_allclose(fields(failed, "gra"), [0.0, 0.0, 0.0])
    np.testing.assert_allclose(fields(solved, "dra"), [0.3, 0.8, 1.1])
    assert batch.metrics["gra/gate_open_rate"] == 0.5
    assert batch.metrics["gra/mean_return"] == pytest.approx(1.1)  # (2.2 + 0) / 2
    assert batch.metrics["gra/dra_mean_return"] == pytest.approx((2.2 + 1.2) / 2)


@pytest.mark.parametrize(
    "solved, tests, expected",
    [
        (1.0, 1.0, 1.0 + 1.0 + 0.3),  # every gate open: everything counts
        (0.0, 1.0, 0.0),  # top gate shut: tests and format are gated, solved (0) counts
        (1.0, 0.2, 1.0 + 0.2),  # tests below its threshold: only format is gated
    ],
)
def test_three_levels(solved, tests, expected):
    stage = GatedRewardAccumulation(
        priorities={"solved": 2, "tests": 1}, thresholds={"solved": 1.0, "tests": 0.5}
    )
    traj = trajectory([{"format": 0.1, "tests": tests}, {"format": 0.2, "solved": solved}])
    stage(TrajectoryBatch([traj]))
    assert sum(fields(traj, "gra")) == pytest.approx(expected)


def test_gate_always_open_equals_the_plain_sum():
    rng = np.random.default_rng(7)
    names = ["format", "tool_success", "modification", "outcome"]
    batch = TrajectoryBatch(
        trajectory(
            [
                {n: float(rng.normal()) for n in rng.choice(names, size=2, replace=False)}
                for _ in range(int(rng.integers(1, 8)))
            ],
            group=str(i),
        )
        for i in range(20)
    )
    stage = GatedRewardAccumulation(priorities={"outcome": 1}, thresholds={"outcome": -np.inf})
    stage(batch)
    for traj in batch:
        for turn in traj.turns:
            assert turn.fields["gra"] == pytest.approx(turn.fields["dra"]) == pytest.approx(turn.reward)
    assert batch.metrics["gra/gate_open_rate"] == 1.0


def test_dra_mode_writes_the_ungated_sum_as_reward():
    failed = trajectory([*SWE_TURNS[:2], {"format": 0.1, "outcome": 0.0}])
    swe_stage(gate=False)(TrajectoryBatch([failed]))
    np.testing.assert_allclose(fields(failed, "reward"), [0.3, 0.8, 0.1])
    np.testing.assert_allclose(fields(failed, "gra"), [0.0, 0.0, 0.0])


def test_raw_rewards_are_never_modified():
    batch = TrajectoryBatch([trajectory(SWE_TURNS, success=s) for s in (True, False)])
    before = [(t.reward, copy.deepcopy(t.reward_components)) for t in batch.turns()]
    swe_stage()(batch)
    assert [(t.reward, t.reward_components) for t in batch.turns()] == before


def test_missing_threshold_is_a_clear_error():
    with pytest.raises(ConfigError, match="no threshold"):
        GatedRewardAccumulation(priorities={"outcome": 1})


def test_unknown_key_lists_valid_keys():
    with pytest.raises(ConfigError, match="priorities"):
        GatedRewardAccumulation(priority={"outcome": 1})


def test_gate_at_the_default_priority():
    # "tests" keeps the default priority 0 and gates only "style" (priority -1)
    stage = GatedRewardAccumulation(priorities={"style": -1}, thresholds={"tests": 0.5})
    low = trajectory([{"tests": 0.2, "style": 0.3, "format": 0.1}])
    high = trajectory([{"tests": 0.6, "style": 0.3, "format": 0.1}])
    stage(TrajectoryBatch([low, high]))
    assert low.turns[0].fields["gra"] == pytest.approx(0.3)  # tests + format
    assert high.turns[0].fields["gra"] == pytest.approx(1.0)


def test_fields_are_floats_even_for_turns_without_components():
    traj = trajectory([{}, {"format": 0.1}, {"outcome": 0.0}])
    swe_stage()(TrajectoryBatch([traj]))
    assert all(type(v) is float for turn in traj.turns for v in turn.fields.values())
