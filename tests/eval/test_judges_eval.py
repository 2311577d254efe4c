"""Scoring a CALM judge against the oracle: counts and precision/recall/F1 by hand."""

from __future__ import annotations

import pytest

import agentrl
from agentrl.envs.sokoban.expert import SolverPolicy
from agentrl.judges import JudgeError, OracleJudge
from agentrl.eval.judges import JudgedTransition, record_transitions, score_judge


def transition(achieved, action="a"):
    return JudgedTransition(task="t", subgoals=list(achieved), observation="o", action=action,
                            next_observation="n", achieved=achieved)


class Scripted:
    def __init__(self, answers):
        self.answers = answers

    def judge(self, observation, action, next_observation, subgoals, *, task="", info=None):
        answer = self.answers[action]
        if isinstance(answer, Exception):
            raise answer
        return answer


def test_counts_and_scores_by_hand():
    items = [transition({"key": True, "door": False}, "a"), transition({"key": False, "door": True}, "b"),
             transition({"key": False, "door": False}, "c"), transition({"key": True, "door": False}, "d")]
    judge = Scripted({"a": {"key": True, "door": True},     # tp, fp
                      "b": {"key": False, "door": False},   # tn, fn
                      "c": {"key": True},                    # fp, tn (a missing subgoal reads as no)
                      "d": JudgeError("down")})              # not counted as "no": a failure
    score = score_judge(judge, items)
    assert score.counts == {"tp": 1, "fp": 2, "fn": 1, "tn": 2, "failures": 1}
    # precision 1/3, recall 1/2, F1 = 2 * (1/3)(1/2) / (5/6) = 0.4
    assert score.precision == pytest.approx(1 / 3) and score.recall == pytest.approx(0.5)
    assert score.f1 == pytest.approx(0.4)
    assert score.per_subgoal["door"]["recall"] == 0.0 and score.per_subgoal["key"]["positives"] == 1


def test_recorded_transitions_carry_the_oracle_labels_and_the_oracle_scores_one():
    envs = [agentrl.make("agentrl/Sokoban-v0", dim_room=(7, 7), num_boxes=2, max_turns=20) for _ in range(2)]
    transitions = record_transitions(envs, SolverPolicy(epsilon=0.2, seed=0), range(6))
    assert transitions and all(set(t.achieved) == set(t.subgoals) for t in transitions)
    assert any(any(t.achieved.values()) for t in transitions)
    score = score_judge(OracleJudge(), transitions)
    assert score.precision == score.recall == score.f1 == 1.0 and score.counts["failures"] == 0
