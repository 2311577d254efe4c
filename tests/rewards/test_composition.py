"""Every env's reward preset composes: no failed episode earns more than its gate allows.

Each env with a preset plays random, expert and farming (one paid action repeated) episodes; the
preset pipeline shapes them; then, on every failed episode:

* with a G-RA gate, the shaped return is exactly the sum of the long-term (gating) components: no
  immediate reward, no CALM credit, no shaping gets through a closed gate;
* without one, the shaped return is the raw return: no stage adds reward a failure could collect.
"""

from __future__ import annotations

import math

import pytest

import agentrl
from agentrl.core.policy import RandomPolicy, ScriptedPolicy
from agentrl.core.registry import MissingExtraError
from agentrl.envs.sokoban.expert import SolverPolicy
from agentrl.rewards import GatedRewardAccumulation, RewardPipeline
from agentrl.rewards.presets import envs_with_presets
from agentrl.rollout import grouped_specs, run_episodes

#: Small, fast configurations (SWE's farming is covered with Docker in the sandbox red-team suite).
SETTINGS = {
    "agentrl/Sokoban-v0": {"max_turns": 12},
    "agentrl/MiniHack-v0": {"max_turns": 25, "task": "KeyRoom-S5", "shaping": True},
    "agentrl/WebShop-v0": {"max_turns": 8},
    "agentrl/Router-v0": {"max_turns": 3},
}


def _farm(info_key: str = "available_actions"):
    """Repeat the first listed action (the paid action in most envs), else a fixed guess."""
    def choose(item):
        actions = item.info.get(info_key) or ["look"]
        return f"<answer>{actions[0]}</answer>"
    return ScriptedPolicy(choose)


def _policies(env):
    policies = {"random": RandomPolicy(seed=0), "farming": _farm()}
    try:
        expert = env.unwrapped.expert_policy()
    except Exception:  # noqa: BLE001 - an expert that needs another observation mode
        expert = None
    if expert is not None:
        policies["expert"] = expert
    return policies


def _long_term(pipeline: RewardPipeline) -> set[str] | None:
    gates = [s for s in pipeline if isinstance(s, GatedRewardAccumulation)]
    if not gates:
        return None
    config = gates[0].config
    return {name for name, priority in config.priorities.items() if priority > config.default_priority}


@pytest.mark.parametrize("env_id", [e for e in envs_with_presets() if e in SETTINGS])
def test_failed_episodes_earn_no_more_than_the_gate_allows(env_id):
    try:
        envs = [agentrl.make(env_id, **SETTINGS[env_id]) for _ in range(4)]
    except MissingExtraError as exc:
        pytest.skip(str(exc))
    try:
        failures = 0
        for name, policy in _policies(envs[0]).items():
            batch = run_episodes(envs, policy, grouped_specs(range(6), 2))
            pipeline = RewardPipeline.preset(env_id, max_turns=SETTINGS[env_id]["max_turns"])
            long_term = _long_term(pipeline)
            pipeline(batch)
            for trajectory in batch:
                shaped = sum(turn.fields.get("reward", turn.reward) for turn in trajectory.turns)
                assert math.isfinite(shaped)
                if trajectory.success:
                    continue
                failures += 1
                if long_term is None:
                    allowed = trajectory.total_reward
                else:
                    allowed = sum(v for turn in trajectory.turns for k, v in turn.reward_components.items()
                                  if k in long_term)
                    if any(k in long_term for k in ("outcome", "success")) and not any(
                            k in turn.reward_components for turn in trajectory.turns for k in ("outcome", "success")):
                        allowed += trajectory.outcome  # an episode-level outcome the gate reads
                assert shaped == pytest.approx(allowed, abs=1e-9), (
                    f"{env_id} ({name} policy): a failed episode earned {shaped}, its gate allows {allowed}"
                )
        assert failures > 0, "no failed episode was played: the invariant was not exercised"
    finally:
        for env in envs:
            env.close()


def test_the_invariant_catches_an_ungated_auxiliary_reward():
    """The same check fails on the old Sokoban composition (CALM's credit added after the gate): a
    noisy solver places one of two boxes in some failed episodes, and that box pays."""
    from agentrl.rewards import CALMCredit, OracleJudge
    from agentrl.rewards.pipeline import RewardPipeline as Pipeline

    envs = [agentrl.make("agentrl/Sokoban-v0", dim_room=(7, 7), num_boxes=2, max_turns=10) for _ in range(4)]
    batch = run_episodes(envs, SolverPolicy(epsilon=0.3, seed=0), grouped_specs(range(12), 2))
    gate = GatedRewardAccumulation(priorities={"finished": 1}, thresholds={"finished": 1.0})
    Pipeline([gate])(batch)
    CALMCredit(judge=OracleJudge(), beta=1.0)(batch)  # what the old preset did, stage by stage
    leaked = [t for t in batch if not t.success and sum(turn.fields["reward"] for turn in t.turns) > 0]
    assert leaked, "the noisy solver should place a box in some failed episode"
