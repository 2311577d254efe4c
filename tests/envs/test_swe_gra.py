"""The SWE reward contract meets G-RA: immediate rewards count only for resolved episodes, the
paper's outcome levels are a component G-RA can gate on, and farming pays less than fixing."""

from __future__ import annotations

import pytest

from agentrl.core.policy import ReplayPolicy
from agentrl.rollout import EpisodeSpec, run_episodes
from agentrl.core.trajectory import TrajectoryBatch
from agentrl.envs.swe import SWEEnv
from agentrl.envs.swe.env import EPISODE_COMPONENTS, IMMEDIATE_COMPONENTS
from agentrl.rewards import RewardPipeline
from agentrl.rewards.gra import GatedRewardAccumulation
from agentrl.sandboxes.pool import wait_discarded
from agentrl.sandboxes.testing import require_backend

FIX = ("<answer>str_replace pagekit/pages.py\n<old>    return total // per_page\n</old>\n"
       "<new>    return -(-total // per_page)\n</new></answer>")
SUBMIT = "<answer>submit</answer>"
# Farms every immediate reward it can (edits, test runs) but never fixes the bug.
FARMER = [
    "<answer>bash python3 -m pytest -q</answer>",
    "<answer>bash echo '# touched' >> pagekit/pages.py</answer>",
    "<answer>bash python3 -m pytest -q</answer>",
    SUBMIT,
]
SOLVER = ["<answer>bash python3 -m pytest -q</answer>", FIX, "<answer>bash python3 -m pytest -q</answer>", SUBMIT]
#: Issue 14's farming trajectory: 29 turns of a command that mentions pytest, then submit.
ECHO_FARMER = ["<answer>bash echo pytest > notes.txt</answer>"] * 29 + [SUBMIT]
EMPTY = [SUBMIT]
SILENT = ["<answer>bash true</answer>"] * 3  # never submits (max_turns=3)


def rollout(env, actions, task_id="pagekit-1"):
    spec = [EpisodeSpec(seed=0, group_id="g", options={"task_id": task_id})]
    return run_episodes([env], ReplayPolicy(actions), spec).trajectories[0]


@pytest.fixture(scope="module")
def episodes():
    require_backend("local")  # the reward contract does not depend on the backend; bubblewrap is fastest
    env = SWEEnv(backend="local")
    short = SWEEnv(backend="local", max_turns=3)
    try:
        return {
            "solved": rollout(env, SOLVER), "farmed": rollout(env, FARMER), "echo": rollout(env, ECHO_FARMER),
            "empty": rollout(env, EMPTY), "silent": rollout(short, SILENT),
        }
    finally:
        env.close()
        short.close()
        wait_discarded()


def returns(trajectory, field="reward"):
    return sum(turn.fields[field] for turn in trajectory.turns)


def raw(trajectory):
    return sum(sum(turn.reward_components.values()) for turn in trajectory.turns)


def test_components_and_outcome_levels(episodes):
    levels = {name: t.turns[-1].info["outcome_level"] for name, t in episodes.items()}
    kinds = {name: t.turns[-1].info["outcome_kind"] for name, t in episodes.items()}
    assert kinds == {"solved": "resolved", "farmed": "tests_failed", "echo": "tests_failed",
                     "empty": "empty_patch", "silent": "no_submit"}
    assert levels == {"solved": 3, "farmed": 2, "echo": 2, "empty": 1, "silent": 0}
    for name, trajectory in episodes.items():
        for turn in trajectory.turns:
            assert set(IMMEDIATE_COMPONENTS) <= set(turn.reward_components)
        last = trajectory.turns[-1].reward_components
        assert last["outcome_level"] == pytest.approx(0.1 * levels[name])
        assert last["outcome"] == (1.0 if name == "solved" else 0.0)
        assert set(EPISODE_COMPONENTS) <= set(last)
    assert episodes["solved"].success and not episodes["farmed"].success


def test_tests_run_follows_what_ran_not_what_was_typed(episodes):
    echo = episodes["echo"]
    assert all(turn.reward_components["tests_run"] == 0.0 for turn in echo.turns)  # "pytest" only in the text
    farmed = [turn.reward_components["tests_run"] for turn in episodes["farmed"].turns]
    assert farmed[0] > 0 and farmed[2] > 0  # the second run is on a changed repository
    solved = [turn.reward_components["tests_run"] for turn in episodes["solved"].turns]
    assert solved[0] > 0 and solved[2] > 0 and solved[1] == 0.0  # the edit ran no tests
    # modification is paid once: the same notes.txt written 29 times is one change
    assert sum(turn.reward_components["modification"] > 0 for turn in echo.turns) == 1


def test_preset_makes_farming_pay_less_than_fixing(episodes):
    """Issue 14: 29 turns of ``echo pytest > notes.txt`` then submit returned 8.8 against 1.3 for a
    real fix. Under the SWE preset (G-RA on the outcome) the farmer earns only its outcome level."""
    batch = RewardPipeline.preset("agentrl/SWE-v0")(TrajectoryBatch([episodes["solved"], episodes["echo"],
                                                                     episodes["farmed"]]))
    solved, echo, farmed = batch.trajectories
    assert raw(echo) > raw(solved)  # ungated (D-RA), farming pays more: the reason for the gate
    assert returns(echo) == pytest.approx(0.2) and returns(farmed) == pytest.approx(0.2)
    # the preset's immediate cap: format and tool_success twice, one modification, two tested states
    assert raw(solved) == pytest.approx(2.0) and returns(solved) == pytest.approx(1.3 + 0.1 + 0.1 + 0.1 + 0.2)
    assert returns(echo) < returns(solved) and returns(farmed) < returns(solved)
    assert returns(echo, "dra") == pytest.approx(raw(echo))


def test_gra_can_gate_on_the_papers_outcome_levels(episodes):
    """The paper's variant: immediate rewards count once the agent submits a patch that applies
    (level >= 2, ``outcome_level >= 0.2``); empty patches and no submit get only their level."""
    gate = GatedRewardAccumulation(priorities={"outcome_level": 1}, thresholds={"outcome_level": 0.2})
    names = ["solved", "farmed", "empty", "silent"]
    batch = gate(TrajectoryBatch([episodes[name] for name in names]))
    got = dict(zip(names, batch.trajectories))
    for name in ("solved", "farmed"):
        assert returns(got[name]) == pytest.approx(raw(got[name]))  # the gate is open
    assert returns(got["empty"]) == pytest.approx(0.1)  # only its level
    assert returns(got["silent"]) == pytest.approx(0.0)


def test_preset_declares_the_components_it_gates():
    stages = SWEEnv.reward_preset()
    assert stages[0]["type"] == "GatedRewardAccumulation"
    assert stages[0]["priorities"] == {"outcome": 1, "outcome_level": 1}
    assert stages[-1]["immediate_components"] == list(IMMEDIATE_COMPONENTS)
    assert SWEEnv.needs_reward_preset
