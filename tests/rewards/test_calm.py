"""CALM credit: hand-worked auxiliary rewards, the persistent cache, and error accounting."""

from __future__ import annotations

import copy

import pytest
from reward_helpers import ScriptedJudge, trajectory

import agentrl
from agentrl.rollout import grouped_specs, run_episodes
from agentrl.core.trajectory import TrajectoryBatch
from agentrl.envs.sokoban.expert import SolverPolicy
from agentrl.rewards import CALMCredit, GatedRewardAccumulation, JudgeError, OracleJudge, UnparseableReply


def key_door_trajectory(**kwargs):
    traj = trajectory([{}, {}, {}, {"goal": 1.0}], instructions="Escape the room.", **kwargs)
    traj.info["subgoals"] = ["key", "door"]
    return traj


VERDICTS = {"act 1": {"key": True}, "act 2": {"door": True}, "act 3": {"key": True}}


def calm(traj):
    return [t.fields["calm"] for t in traj.turns]


def test_beta_is_paid_once_per_subgoal_at_the_turn_it_is_first_achieved():
    traj = key_door_trajectory()
    batch = CALMCredit(judge=ScriptedJudge(VERDICTS), beta=0.5)(TrajectoryBatch([traj]))
    # key at turn 1 (new), door at turn 2 (new), key again at turn 3 (already achieved: nothing)
    assert calm(traj) == [0.0, 0.5, 0.5, 0.0]
    # added to the raw reward, which stays untouched
    assert [t.fields["reward"] for t in traj.turns] == [0.0, 0.5, 0.5, 1.0]
    assert [t.reward for t in traj.turns] == [0.0, 0.0, 0.0, 1.0]
    assert batch.metrics["calm/achieved"] == 2
    assert batch.metrics["calm/judge_calls"] == 4
    assert batch.metrics["calm/reward_per_turn"] == pytest.approx(0.25)


def test_calm_adds_to_an_earlier_stage_reward():
    traj = key_door_trajectory(success=False)
    batch = TrajectoryBatch([traj])
    GatedRewardAccumulation(priorities={"outcome": 1}, thresholds={"outcome": 1.0})(batch)  # gates "goal" off
    CALMCredit(judge=ScriptedJudge(VERDICTS), beta=0.5)(batch)
    assert [t.fields["reward"] for t in traj.turns] == [0.0, 0.5, 0.5, 0.0]


def test_subgoals_come_from_the_env_or_from_the_judge():
    judge = ScriptedJudge(VERDICTS, subgoals=["key", "door"])
    with_env = key_door_trajectory()
    CALMCredit(judge=judge)(TrajectoryBatch([with_env]))
    assert judge.decompose_calls == 0
    without = key_door_trajectory()
    without.info["subgoals"] = []
    batch = CALMCredit(judge=judge, beta=0.5)(TrajectoryBatch([without]))
    assert judge.decompose_calls == 1 and batch.metrics["calm/decompose_calls"] == 1
    assert calm(without) == [0.0, 0.5, 0.5, 0.0]


def test_cache_hit_makes_no_judge_call(tmp_path):
    first_judge = ScriptedJudge(VERDICTS)
    first = CALMCredit(judge=first_judge, beta=0.5, cache_dir=str(tmp_path))
    batch = first(TrajectoryBatch([key_door_trajectory(), key_door_trajectory()]))
    # the second trajectory repeats the first one's transitions: judged once each
    assert first_judge.judge_calls == 4
    assert batch.metrics["calm/judge_calls"] == 4 and batch.metrics["calm/cache_hits"] == 4
    first.close()
    # a new process (new stage, new judge) pointing at the same directory
    second_judge = ScriptedJudge(VERDICTS)
    second = CALMCredit(judge=second_judge, beta=0.5, cache_dir=str(tmp_path))
    traj = key_door_trajectory()
    batch = second(TrajectoryBatch([traj]))
    assert second_judge.judge_calls == 0
    assert batch.metrics["calm/judge_calls"] == 0 and batch.metrics["calm/cache_hits"] == 4
    assert calm(traj) == [0.0, 0.5, 0.5, 0.0]
    second.close()


def test_judge_errors_are_counted_never_a_silent_zero(tmp_path):
    verdicts = dict(VERDICTS, **{"act 1": JudgeError("connection refused")})
    judge = ScriptedJudge(verdicts)
    stage = CALMCredit(judge=judge, beta=0.5, cache_dir=str(tmp_path))
    traj = key_door_trajectory()
    batch = stage(TrajectoryBatch([traj]))
    assert batch.metrics["calm/judge_errors"] == 1
    assert [t.fields["calm_judged"] for t in traj.turns] == [1.0, 0.0, 1.0, 1.0]
    # turn 1 has no verdict; the key found again at turn 3 is then the first time it is seen
    assert calm(traj) == [0.0, 0.0, 0.5, 0.5]
    assert "connection refused" in stage.last_errors[0]
    # errors are not cached: the next batch asks again
    stage(TrajectoryBatch([key_door_trajectory()]))
    assert judge.judge_calls == 5


def test_unparseable_replies_are_counted_and_cached(tmp_path):
    judge = ScriptedJudge(dict(VERDICTS, **{"act 2": "I think maybe"}))
    stage = CALMCredit(judge=judge, beta=0.5, cache_dir=str(tmp_path))
    traj = key_door_trajectory()
    batch = stage(TrajectoryBatch([traj]))
    assert batch.metrics["calm/unparseable"] == 1 and batch.metrics["calm/judge_errors"] == 0
    assert traj.turns[2].fields["calm_judged"] == 0.0
    again = stage(TrajectoryBatch([key_door_trajectory()]))
    assert judge.judge_calls == 4  # the same prompt would get the same reply: cached
    assert again.metrics["calm/unparseable"] == 1  # and still counted


def test_unreadable_subgoal_lists_are_counted_and_cached(tmp_path):
    class Mumbling(ScriptedJudge):
        def decompose(self, task):
            self.decompose_calls += 1
            raise UnparseableReply("no list", "hmm")

    judge = Mumbling(VERDICTS)
    traj = key_door_trajectory()
    traj.info["subgoals"] = []
    stage = CALMCredit(judge=judge, cache_dir=str(tmp_path))
    batch = stage(TrajectoryBatch([traj]))
    assert batch.metrics["calm/decompose_errors"] == 1 and judge.judge_calls == 0
    assert all(t.fields["calm_judged"] == 0.0 for t in traj.turns)
    again = stage(TrajectoryBatch([copy.deepcopy(traj)]))
    assert judge.decompose_calls == 1 and again.metrics["calm/decompose_errors"] == 1


def test_on_error_raise_stops_at_the_first_failure():
    stage = CALMCredit(judge=ScriptedJudge({"act 0": JudgeError("down")}), on_error="raise")
    with pytest.raises(JudgeError, match="down"):
        stage(TrajectoryBatch([key_door_trajectory()]))
    stage = CALMCredit(judge=ScriptedJudge({"act 0": "??"}), on_error="raise")
    with pytest.raises(UnparseableReply):
        stage(TrajectoryBatch([key_door_trajectory()]))


def test_concurrent_judging_gives_the_same_result():
    serial = key_door_trajectory()
    parallel = key_door_trajectory()
    CALMCredit(judge=ScriptedJudge(VERDICTS), beta=0.5)(TrajectoryBatch([serial]))
    CALMCredit(judge=ScriptedJudge(VERDICTS), beta=0.5, max_concurrency=4)(TrajectoryBatch([parallel]))
    assert calm(serial) == calm(parallel)


def test_oracle_judge_on_sokoban_rewards_the_box_on_goal_turn():
    envs = [agentrl.make("agentrl/Sokoban-v0") for _ in range(2)]
    batch = run_episodes(envs, SolverPolicy(), grouped_specs([3, 4, 5], 1))
    CALMCredit(judge=OracleJudge(), beta=1.0)(batch)
    for traj in batch:
        assert traj.success and traj.info["subgoals"] == ["1 box on goals"]
        placed = [t.reward_components["box"] > 0 for t in traj.turns]
        first = placed.index(True)
        assert calm(traj) == [1.0 if i == first else 0.0 for i in range(len(traj.turns))]
        assert all(t.fields["calm_judged"] == 1.0 for t in traj.turns)
    assert batch.metrics["calm/achieved"] == 3 and batch.metrics["calm/judge_errors"] == 0


def test_oracle_without_env_subgoals_counts_a_decompose_error():
    traj = key_door_trajectory()
    traj.info["subgoals"] = []
    batch = CALMCredit(judge=OracleJudge())(TrajectoryBatch([traj]))
    assert batch.metrics["calm/decompose_errors"] == 1
    assert all(t.fields["calm_judged"] == 0.0 for t in traj.turns)
