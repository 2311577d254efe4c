"""G-RA: hand-worked gated returns, the multi-level gate, the open-gate invariant, and the immediate cap
that closes the stall loophole (red-team: stalling in a solved episode earns no more than solving)."""

from __future__ import annotations

import copy

import numpy as np
import pytest
from reward_helpers import trajectory

import agentrl
from agentrl.core.config import ConfigError
from agentrl.core.trajectory import TrajectoryBatch
from agentrl.envs.sokoban.expert import SolverPolicy
from agentrl.envs.sokoban.level import DIRECTIONS
from agentrl.rewards import GatedRewardAccumulation
from agentrl.rewards.gra import gated_return
from agentrl.rewards.presets import preset_stages

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


# ------------------------------------------------------------------ the immediate cap (stall loophole)
def capped_stage(cap, **kwargs) -> GatedRewardAccumulation:
    return GatedRewardAccumulation(
        priorities={"finished": 1}, thresholds={"finished": 1.0}, immediate_cap=cap, **kwargs
    )


def test_total_cap_hand_worked():
    # four moves at 0.3 then the solving move: the running total 0.3, 0.6, 0.9 reaches the cap 1.0
    # on the fourth move (paid 0.1); the fifth move pays nothing, solving pays its 1.0
    solved = trajectory([{"step": 0.3}] * 4 + [{"step": 0.3, "finished": 1.0}])
    capped_stage(1.0)(TrajectoryBatch([solved]))
    np.testing.assert_allclose(fields(solved, "gra"), [0.3, 0.3, 0.3, 0.1, 1.0])
    np.testing.assert_allclose(fields(solved, "dra"), [0.3, 0.3, 0.3, 0.3, 1.3])  # D-RA: uncapped
    assert sum(fields(solved, "gra")) == pytest.approx(gated_return(1.0, 1.0, [0.3] * 5, cap=1.0)) == 2.0


def test_penalties_count_in_full_and_the_cap_bounds_the_running_total():
    # paid: 0.6; 0.4 (total 1.0 = cap); -0.5 (a penalty, in full: 0.5); 0.5 (back to the cap)
    solved = trajectory([{"f": 0.6}, {"f": 0.6}, {"f": -0.5}, {"f": 0.6}, {"finished": 1.0}])
    capped_stage(1.0)(TrajectoryBatch([solved]))
    np.testing.assert_allclose(fields(solved, "gra"), [0.6, 0.4, -0.5, 0.5, 1.0])
    # closed form: 1 + S_T - max(0, max_t S_t - C) = 1 + 1.3 - (1.3 - 1.0) = 2.0
    assert gated_return(1.0, 1.0, [0.6, 0.6, -0.5, 0.6], cap=1.0) == pytest.approx(2.0)


def test_per_component_caps_leave_other_components_alone():
    # format capped at 0.1 (two payments of 0.05); tests_run uncapped; the outcome is a gate
    turns = [{"format": 0.05, "tests_run": 0.1}] * 3 + [{"format": 0.05, "outcome": 1.0}]
    solved = trajectory(turns)
    swe_stage(immediate_cap={"format": 0.1})(TrajectoryBatch([solved]))
    np.testing.assert_allclose(fields(solved, "gra"), [0.15, 0.15, 0.1, 1.0])


def test_a_zero_cap_keeps_a_component_a_cost():
    # the Sokoban preset's cap on "step": a positive move weight never pays, a negative one costs in full
    paid = trajectory([{"step": 0.3}, {"step": 0.3, "finished": 1.0}])
    cost = trajectory([{"step": -0.1}, {"step": -0.1, "finished": 1.0}], group="h")
    capped_stage({"step": 0.0})(TrajectoryBatch([paid, cost]))
    np.testing.assert_allclose(fields(paid, "gra"), [0.0, 1.0])
    np.testing.assert_allclose(fields(cost, "gra"), [-0.1, 0.9])


def test_a_failed_farming_episode_still_earns_nothing_with_a_cap():
    farmed = trajectory([{"step": 0.3}] * 15 + [{"step": 0.3, "finished": 0.0}])
    capped_stage(1.0)(TrajectoryBatch([farmed]))
    assert fields(farmed, "gra") == [0.0] * 16


def test_the_cap_sums_to_the_episode_return_on_random_episodes():
    """Summed over an episode, gra equals gated_return(..., cap) (the module docstring's formula)."""
    rng = np.random.default_rng(11)
    for case in range(200):
        cap = float(rng.choice([0.0, 0.5, 1.0, 3.0, np.inf]))
        immediate = [float(v) for v in rng.normal(0.2, 0.5, size=int(rng.integers(1, 12)))]
        outcome = float(rng.choice([0.0, 1.0]))
        turns = [{"tool": v} for v in immediate]
        turns[-1]["outcome"] = outcome
        traj = trajectory(turns)
        swe_stage(immediate_cap=cap)(TrajectoryBatch([traj]))
        assert sum(fields(traj, "gra")) == pytest.approx(gated_return(outcome, 1.0, immediate, cap=cap)), case
        if outcome >= 1.0 and all(v >= 0 for v in immediate):
            assert sum(fields(traj, "gra")) - outcome == pytest.approx(min(sum(immediate), cap))


def test_dra_mode_stays_the_ungated_uncapped_sum():
    solved = trajectory([{"step": 0.3}] * 6 + [{"finished": 1.0}])
    capped_stage(0.5, gate=False)(TrajectoryBatch([solved]))
    assert sum(fields(solved, "reward")) == pytest.approx(0.3 * 6 + 1.0)  # the paper's D-RA baseline
    assert sum(fields(solved, "gra")) == pytest.approx(1.5)  # the capped G-RA, still reported


def _stall_then_solve(stall: int) -> list[dict[str, float]]:
    """Turns of a stalling agent: ``stall`` paid moves that do nothing for the task, then a 4-move solve."""
    return [{"step": 0.3}] * (stall + 3) + [{"step": 0.3, "finished": 1.0}]


@pytest.mark.parametrize("stall", [1, 5, 20, 100])
def test_stalling_never_earns_more_than_a_direct_solve(stall):
    direct, stalled = trajectory(_stall_then_solve(0)), trajectory(_stall_then_solve(stall), group="s")
    uncapped = copy.deepcopy([direct, stalled])
    capped_stage(1.0)(TrajectoryBatch([direct, stalled]))
    capped_stage(None)(TrajectoryBatch(uncapped))
    assert sum(fields(stalled, "gra")) <= sum(fields(direct, "gra")) + 1e-12
    # the loophole the cap closes: uncapped, every stalled move pays
    assert sum(fields(uncapped[1], "gra")) == pytest.approx(sum(fields(uncapped[0], "gra")) + 0.3 * stall)


FARMABLE_SOKOBAN = {"dim_room": [6, 6], "num_boxes": 1, "min_solution_moves": 4, "max_turns": 60,
                    "rewards": {"step": 0.3, "box_on_goal": 0.0, "box_off_goal": 0.0, "finished": 1.0}}


def _play_sokoban(seed: int, stall: int):
    """A real room: ``stall`` moves that push no box, then the solver's moves to the end."""
    env = agentrl.make("agentrl/Sokoban-v0", **FARMABLE_SOKOBAN)
    solver = SolverPolicy()
    env.reset(seed=seed)
    components, done = [], False
    while not done:
        level = env.unwrapped.level
        if len(components) < stall:
            move = next(d for d in DIRECTIONS if level.move(d).boxes == level.boxes and level.move(d) != level)
        else:
            move = solver.next_move(level)
        _, _, terminated, truncated, info = env.step(f"<answer>{move}</answer>")
        components.append(dict(info["reward_components"]))
        done = terminated or truncated
    env.close()
    return trajectory(components, success=bool(terminated), group=f"{seed}-{stall}")


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_stalling_in_a_real_sokoban_room_earns_no_more_than_solving_it(seed):
    """The ablation's farmable Sokoban: walking around for 20 moves before solving the same room."""
    direct, stalled = _play_sokoban(seed, 0), _play_sokoban(seed, 20)
    assert direct.success and stalled.success and len(stalled.turns) > len(direct.turns)
    capped_stage(1.0)(TrajectoryBatch([direct, stalled]))
    assert sum(fields(stalled, "gra")) <= sum(fields(direct, "gra")) + 1e-12
    assert sum(fields(direct, "gra")) == pytest.approx(2.0)  # every room needs >= 4 moves: the cap is reached
    assert sum(fields(stalled, "dra")) > sum(fields(direct, "dra"))  # D-RA still pays the stall


def _swe_preset_stage() -> GatedRewardAccumulation:
    return next(s for s in preset_stages("agentrl/SWE-v0") if isinstance(s, GatedRewardAccumulation))


SWE_EDIT = {"format": 0.05, "tool_success": 0.05, "modification": 0.1, "tests_run": 0.0}
SWE_TEST = {"format": 0.05, "tool_success": 0.05, "modification": 0.0, "tests_run": 0.1}
SWE_LS = {"format": 0.05, "tool_success": 0.05, "modification": 0.0, "tests_run": 0.0}
SWE_SUBMIT_RESOLVED = {"format": 0.05, "tool_success": 0.05, "modification": 0.0, "tests_run": 0.0,
                       "outcome": 1.0, "outcome_level": 0.3}


def test_swe_preset_pays_no_stalling_in_a_resolved_episode():
    """Reproduce, edit, verify, submit vs 15 turns of ls and 5 edit/test cycles before the same fix."""
    direct = trajectory([SWE_TEST, SWE_EDIT, SWE_TEST, SWE_SUBMIT_RESOLVED])
    minimal = trajectory([SWE_EDIT, SWE_SUBMIT_RESOLVED], group="m")
    stalled = trajectory([SWE_LS] * 15 + [SWE_EDIT, SWE_TEST] * 5 + [SWE_SUBMIT_RESOLVED], group="s")
    failed = trajectory([SWE_LS] * 15 + [{**SWE_SUBMIT_RESOLVED, "outcome": 0.0, "outcome_level": 0.2}], group="f")
    _swe_preset_stage()(TrajectoryBatch([direct, minimal, stalled, failed]))
    total = {name: sum(fields(t, "gra")) for name, t in
             [("direct", direct), ("minimal", minimal), ("stalled", stalled), ("failed", failed)]}
    # caps: format 0.1, tool_success 0.1, modification 0.1, tests_run 0.2 (raw: 0.2, 0.2, 0.1, 0.2)
    assert total["direct"] == pytest.approx(1.3 + 0.1 + 0.1 + 0.1 + 0.2)
    assert total["stalled"] <= total["direct"] + 1e-12
    assert sum(fields(stalled, "dra")) > sum(fields(direct, "dra")) + 1.0  # uncapped, stalling paid 1.25 more
    assert total["minimal"] == pytest.approx(1.3 + 0.1 + 0.1 + 0.1)  # no test run: tests_run's 0.2 missing
    assert total["failed"] == pytest.approx(0.2)  # outcome level only, as before


def test_sokoban_preset_never_pays_for_moves():
    stage = next(s for s in preset_stages("agentrl/Sokoban-v0") if isinstance(s, GatedRewardAccumulation))
    stalled = trajectory([{"step": 0.3, "box": 0.0, "finished": 0.0}] * 10 + [{"step": 0.3, "box": 1.0, "finished": 10.0}])
    stage(TrajectoryBatch([stalled]))
    assert sum(fields(stalled, "gra")) == pytest.approx(11.0)


@pytest.mark.parametrize(
    "cap, message",
    [
        (-0.5, "immediate_cap must be a number >= 0"),
        (float("nan"), "immediate_cap must be a number >= 0"),
        (True, "immediate_cap must be a number or a mapping"),
        ("lots", "immediate_cap must be a number or a mapping"),
        ({"format": -1}, r"immediate_cap\['format'\] must be a number >= 0"),
        ({"finished": 1.0}, r"names \['finished'\], which are gates"),
    ],
)
def test_bad_caps_are_clear_errors(cap, message):
    with pytest.raises(ConfigError, match=message):
        capped_stage(cap)


def test_cap_from_a_config_string_and_back():
    assert capped_stage("0.5").config.immediate_cap == 0.5
    stage = capped_stage({"step": 1})
    assert stage.config.immediate_cap == {"step": 1.0}
    rebuilt = GatedRewardAccumulation(**{k: v for k, v in stage.to_config().items() if k != "type"})
    assert rebuilt.config.immediate_cap == {"step": 1.0}


def test_cap_under_a_partly_open_gate_counts_only_what_the_gate_lets_through():
    # "tests" (priority 0, the default) fails its threshold: "style" (-1) is gated out, "format" (0)
    # counts and is capped at 1.0 in total, "tests" is a gate and never capped
    stage = GatedRewardAccumulation(priorities={"style": -1}, thresholds={"tests": 0.5}, immediate_cap=1.0)
    low = trajectory([{"tests": 0.2, "style": 0.3, "format": 0.6}] * 2)
    stage(TrajectoryBatch([low]))
    np.testing.assert_allclose(fields(low, "gra"), [0.2 + 0.6, 0.2 + 0.4])


def test_cap_with_three_levels_applies_once_every_gate_is_open():
    stage = GatedRewardAccumulation(
        priorities={"solved": 2, "tests": 1}, thresholds={"solved": 1.0, "tests": 0.5}, immediate_cap=0.15
    )
    opened = trajectory([{"format": 0.1, "tests": 1.0}, {"format": 0.1}, {"format": 0.1, "solved": 1.0}])
    shut = trajectory([{"format": 0.1, "tests": 1.0}, {"format": 0.1}, {"format": 0.1, "solved": 0.0}], group="s")
    stage(TrajectoryBatch([opened, shut]))
    np.testing.assert_allclose(fields(opened, "gra"), [1.1, 0.05, 1.0])  # format: 0.1 + 0.05, then nothing
    np.testing.assert_allclose(fields(shut, "gra"), [0.0, 0.0, 0.0])  # the shut top gate holds back tests too
