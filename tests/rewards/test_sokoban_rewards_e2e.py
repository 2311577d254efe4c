"""End to end: Sokoban rollouts from a tiny LM policy through the full preset pipeline
(G-RA -> OPRL with a tiny-model PRM -> CALM with the oracle judge -> ADS -> monitor)."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
from reward_helpers import attach_tokens

import agentrl
from agentrl.rollout import grouped_specs, run_episodes
from agentrl.core.trajectory import TrajectoryBatch
from agentrl.envs.sokoban.expert import SolverPolicy
from agentrl.models import tiny_causal_lm
from agentrl.policies.generation import GenerationConfig
from agentrl.policies.hf import HFPolicy
from agentrl.rewards import RewardPipeline
from agentrl.rewards.oprl import dpo_pairs
from agentrl.train.advantages import batch_advantages

FIELDS = {"gra", "dra", "reward", "prm", "step_reward", "calm", "calm_judged", "gamma"}


def rollouts(policy_model, tokenizer) -> TrajectoryBatch:
    """Token-exact LM episodes plus solver episodes of the same rooms (the group's successes)."""
    policy = HFPolicy(policy_model, tokenizer, GenerationConfig(max_new_tokens=8), seed=0)
    lm_envs = [agentrl.make("agentrl/Sokoban-v0", max_turns=4) for _ in range(4)]
    lm = run_episodes(lm_envs, policy, grouped_specs([11, 12], 2))
    expert_envs = [agentrl.make("agentrl/Sokoban-v0") for _ in range(2)]
    expert = attach_tokens(
        run_episodes(expert_envs, SolverPolicy(), grouped_specs([11, 12], 1)), tokenizer, policy_model
    )
    return TrajectoryBatch(list(lm) + list(expert))


def test_sokoban_through_the_full_pipeline(tiny_tokenizer):
    policy_model = tiny_causal_lm(hidden_size=32, num_layers=1, num_heads=2, seed=0)
    batch = rollouts(policy_model, tiny_tokenizer)
    raw = [(t.reward, dict(t.reward_components)) for t in batch.turns()]
    assert any(t.success for t in batch) and not all(t.success for t in batch)

    prm = copy.deepcopy(policy_model)  # the PRM starts as pi_old
    config = RewardPipeline.preset("agentrl/Sokoban-v0", prm=prm).to_config()
    assert config[2] == dict(config[2], type="ImplicitPRM", model="@ImplicitPRM.model")
    config[2]["lr"] = 1e-3
    pipeline = RewardPipeline.from_config(config, objects={"ImplicitPRM.model": prm})
    pipeline(batch)

    # every turn carries every field, all finite; the env's rewards are untouched
    for turn in batch.turns():
        assert FIELDS <= set(turn.fields)
        assert all(math.isfinite(v) for v in turn.fields.values())
    assert [(t.reward, t.reward_components) for t in batch.turns()] == raw

    ads_gamma = batch.metrics["ads/gamma"]
    for traj in batch:
        gra = [t.fields["gra"] for t in traj.turns]
        # G-RA: "finished" gates the immediate components and CALM's credit
        if traj.success:
            assert sum(gra) == pytest.approx(traj.total_reward + sum(t.fields["calm"] for t in traj.turns))
        else:
            assert gra == [0.0] * len(gra)
        # CALM with the oracle: beta = 1 on the turn the box first reaches the goal
        placed = [t.reward_components.get("box", 0.0) > 0 for t in traj.turns]
        expected = (
            [1.0 if i == placed.index(True) else 0.0 for i in range(len(placed))]
            if any(placed)
            else [0.0] * len(placed)
        )
        assert [t.fields["calm"] for t in traj.turns] == expected
        for turn in traj.turns:
            assert turn.fields["calm_judged"] == 1.0
            assert turn.fields["reward"] == pytest.approx(turn.fields["gra"])
            assert turn.fields["gamma"] == ads_gamma
            # the PRM equals pi_old before its first step
            assert turn.fields["prm"] == pytest.approx(0.0, abs=1e-4)

    assert batch.metrics["calm/judge_errors"] == 0 and batch.metrics["calm/unparseable"] == 0
    assert batch.metrics["oprl/pairs"] == len(dpo_pairs(list(batch))) > 0
    assert batch.metrics["oprl/dpo_loss"] == pytest.approx(math.log(2.0), abs=1e-4)
    assert "monitor/true_return" in batch.metrics and "pipeline/oprl_ms" in batch.metrics

    # the DPO step moved the PRM towards the successful trajectories of each room
    rescored = pipeline[2].score(batch)
    margins = [np.mean(rescored[w]) - np.mean(rescored[l]) for w, l in dpo_pairs(list(batch))]
    assert np.mean(margins) > 0

    # the learner's view: finite per-turn advantages with the OPRL step term
    advantages = batch_advantages(batch, "turn", step_weight=1.0).advantages
    assert [len(a) for a in advantages] == [len(t.turns) for t in batch]
    assert all(np.isfinite(a).all() for a in advantages)

    state = pipeline.state_dict()
    assert [s["type"] for s in state["stages"]][2] == "ImplicitPRM" and state["stages"][2]["state"][
        "updates"
    ] == 1
