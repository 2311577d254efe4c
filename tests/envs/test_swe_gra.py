"""The SWE reward contract meets the G-RA preset: immediate rewards count only for resolved episodes."""

from __future__ import annotations

import pytest

from agentrl.core.policy import ReplayPolicy
from agentrl.core.rollout import EpisodeSpec, run_episodes
from agentrl.envs.swe import SWEEnv
from agentrl.sandboxes.pool import wait_discarded
from agentrl.sandboxes.testing import require_backend

FIX = ("<answer>str_replace pagekit/pages.py\n<old>    return total // per_page\n</old>\n"
       "<new>    return -(-total // per_page)\n</new></answer>")
# Farms every immediate reward (edits, test runs) but never fixes the bug.
FARMER = [
    "<answer>bash python3 -m pytest -q</answer>",
    "<answer>bash echo '# touched' >> pagekit/pages.py</answer>",
    "<answer>bash python3 -m pytest -q</answer>",
    "<answer>submit</answer>",
]
SOLVER = ["<answer>bash python3 -m pytest -q</answer>", FIX, "<answer>submit</answer>"]


@pytest.fixture(scope="module")
def episodes():
    require_backend("local")  # the reward contract does not depend on the backend; bubblewrap is fastest
    env = SWEEnv(backend="local")
    spec = [EpisodeSpec(seed=0, group_id="g", options={"task_id": "pagekit-1"})]
    try:
        solved = run_episodes([env], ReplayPolicy(SOLVER), spec)
        farmed = run_episodes([env], ReplayPolicy(FARMER), spec)
    finally:
        env.close()
        wait_discarded()
    return solved.trajectories[0], farmed.trajectories[0]


def test_components_match_the_gra_contract(episodes):
    from agentrl.envs.swe.env import IMMEDIATE_COMPONENTS as SWE_IMMEDIATE

    solved, farmed = episodes
    for trajectory in (solved, farmed):
        for turn in trajectory.turns:
            assert set(SWE_IMMEDIATE) <= set(turn.reward_components)
        assert "outcome" in trajectory.turns[-1].reward_components
    assert solved.outcome == 1.0 and solved.success and farmed.outcome == 0.0 and not farmed.success
    assert farmed.turns[-1].info["outcome_kind"] == "tests_failed"
    farmed_immediate = sum(
        turn.reward_components[name] for turn in farmed.turns for name in SWE_IMMEDIATE
    )
    assert farmed_immediate > 0.3  # the farmer did collect immediate rewards


def test_gra_preset_gates_immediate_rewards_on_the_outcome(episodes):
    from agentrl.core.trajectory import TrajectoryBatch
    from agentrl.rewards import RewardPipeline

    solved, farmed = episodes
    batch = RewardPipeline.preset("agentrl/SWE-v0")(TrajectoryBatch([solved, farmed]))
    solved, farmed = batch.trajectories
    raw = lambda t: sum(sum(turn.reward_components.values()) for turn in t.turns)
    assert sum(turn.fields["reward"] for turn in solved.turns) == pytest.approx(raw(solved))
    assert sum(turn.fields["reward"] for turn in farmed.turns) == pytest.approx(0.0)
    assert sum(turn.fields["dra"] for turn in farmed.turns) == pytest.approx(raw(farmed))
