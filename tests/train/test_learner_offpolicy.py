"""The learner with versions and off-policy data: stale trajectories are never trained on, importance
weights are 1 when the behaviour and current policies coincide, and packed scoring and gradient
checkpointing change the memory layout only, not the update."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import agentrl
from agentrl.models import tiny_causal_lm
from agentrl.policies.generation import GenerationConfig
from agentrl.rollout import VersionedPolicy, grouped_specs, run_episodes
from agentrl.train.advantages import Advantages, batch_advantages
from agentrl.train.agents import LMAgent
from agentrl.train.config import RLConfig
from agentrl.train.learner import Learner, _per_turn_targets


def _agent(tokenizer, *, context="full", **kwargs) -> LMAgent:
    model = tiny_causal_lm(hidden_size=32, num_layers=2, num_heads=2, seed=5)
    generation = GenerationConfig(max_new_tokens=6, context=context, system_prompt=False)
    return LMAgent(model, tokenizer, generation, seed=1, **kwargs)


def _rollout(policy, episodes=4, max_turns=3):
    envs = [agentrl.make("agentrl/Sokoban-v0", max_turns=max_turns) for _ in range(episodes)]
    return run_episodes(envs, policy, grouped_specs(range(episodes // 2), 2))


class ScoreSpy:
    """Records every turn the learner scores."""

    def __init__(self, agent):
        self.agent, self.score, self.turns = agent, agent.score, []
        agent.score = self

    def __call__(self, units, **kwargs):
        scores = self.score(units, **kwargs)
        self.turns.extend(id(turn) for turn in scores.turns)
        return scores


@pytest.fixture(scope="module")
def batch_and_agent(tiny_tokenizer):
    agent = _agent(tiny_tokenizer)
    acting = VersionedPolicy(agent.policy)
    batch = _rollout(acting, episodes=6)
    return agent, batch


def test_a_trajectory_older_than_max_staleness_is_never_trained_on(batch_and_agent):
    agent, batch = copy.deepcopy(batch_and_agent)
    learner = Learner(agent, RLConfig(minibatch_size=4, epochs=2))
    learner.version = 3
    for i, trajectory in enumerate(batch):  # versions 3, 2, 1 (stale at max_staleness=1), 3, 2, 1
        for turn in trajectory.turns:
            turn.policy_version = 3 - i % 3
    stale = [t for i, t in enumerate(batch) if i % 3 == 2]
    spy = ScoreSpy(agent)
    stats = learner.update(batch, batch_advantages(batch, "turn"), seed=0, max_staleness=1)
    stale_turns = {id(turn) for t in stale for turn in t.turns}
    assert spy.turns and not stale_turns & set(spy.turns)
    assert stats["learner/stale_skipped"] == 2.0
    assert stats["learner/staleness_max"] == 1.0 and 0 < stats["learner/staleness_mean"] < 1
    assert learner.version == 4  # one version per update


def test_one_stale_turn_is_enough_to_leave_the_trajectory_out(batch_and_agent):
    agent, batch = copy.deepcopy(batch_and_agent)
    learner = Learner(agent, RLConfig(minibatch_size=64))
    learner.version = 2
    for trajectory in batch:
        for turn in trajectory.turns:
            turn.policy_version = 2
    batch[0].turns[-1].policy_version = 0  # its last turn is 2 versions old
    spy = ScoreSpy(agent)
    stats = learner.update(batch, batch_advantages(batch, "turn"), seed=0, max_staleness=1)
    assert stats["learner/stale_skipped"] == 1.0
    assert not {id(turn) for turn in batch[0].turns} & set(spy.turns)


@pytest.mark.parametrize("correction", ["tis", "decoupled"])
@pytest.mark.parametrize("level", ["token", "turn"])
def test_importance_ratios_are_one_when_behaviour_and_current_policy_coincide(batch_and_agent, correction, level):
    """The rollout was sampled with the learner's weights: pi_prox / pi_behav = 1 (up to the float
    difference between KV-cached sampling and one full forward pass), nothing is capped, and the
    PPO ratio at the first step is exactly 1."""
    agent, batch = copy.deepcopy(batch_and_agent)
    config = RLConfig(minibatch_size=2, epochs=2, lr=0.05, importance_correction=correction, is_level=level,
                      is_cap=1.0 + 1e-3)
    learner = Learner(agent, config)
    credit = _random_credit(batch)
    targets = _per_turn_targets(batch, credit)
    chunk = agent.units(batch)
    with torch.no_grad():
        scored = agent.score(chunk).logprobs  # the proximal policy, scored apart
    explicit, first = learner.loss(chunk, targets, scored, correct=True)
    implicit, _ = learner.loss(chunk, targets, correct=True)  # before any step: its own log-probs
    assert torch.equal(explicit, implicit)
    assert abs(first["is_ratio_mean"] - 1.0) < 1e-4 and abs(first["is_ratio_max"] - 1.0) < 1e-3
    assert first["is_clipped_fraction"] == 0.0
    assert first["approx_kl"] == 0.0 and first["clip_fraction"] == 0.0  # pi_theta == pi_prox, bit for bit
    # Six optimizer steps at a large learning rate: every step's proximal policy is still the starting
    # weights (= the behaviour policy), so the weights stay 1 while the PPO ratio moves.
    stats = learner.update(batch, credit, seed=0)
    assert stats["learner/updates"] == 6.0 and stats["learner/approx_kl"] > 0
    assert abs(stats["learner/is_ratio_mean"] - 1.0) < 1e-4 and stats["learner/is_clipped_fraction"] == 0.0


def test_stale_behaviour_gives_weights_away_from_one(batch_and_agent, tiny_tokenizer):
    """Behaviour log-probs from older weights: the weights move off 1 and the statistics show it."""
    agent, batch = copy.deepcopy(batch_and_agent)
    with torch.no_grad():
        for parameter in agent.model.parameters():
            parameter.add_(torch.randn_like(parameter) * 0.2)
    learner = Learner(agent, RLConfig(minibatch_size=64, importance_correction="tis", is_cap=1.5))
    stats = learner.update(batch, _random_credit(batch), seed=0)
    assert stats["learner/is_ratio_max"] > 1.5 and 0 < stats["learner/is_clipped_fraction"] < 1


def _random_credit(batch, seed=0):
    """Advantages of +-1 (a random policy's Sokoban turns all earn the same, so its own are 0)."""
    rng = np.random.default_rng(seed)
    return Advantages([rng.choice([-1.0, 1.0], size=len(t.turns)) for t in batch],
                      [np.zeros(len(t.turns)) for t in batch])


def _trained_weights(agent, batch, **config):
    clone = copy.deepcopy(agent)
    learner = Learner(clone, RLConfig(minibatch_size=3, epochs=2, lr=0.01, **config))
    stats = learner.update(batch, _random_credit(batch), seed=0)
    return torch.cat([p.detach().flatten() for p in clone.parameters()]), stats


def test_packed_scoring_gives_the_padded_scores_per_turn(tiny_tokenizer):
    agent = _agent(tiny_tokenizer)
    batch = _rollout(agent.policy, episodes=6, max_turns=4)
    units = agent.units(batch)
    units += [unit[:1] for unit in units] + [unit[:2] for unit in units]  # segments of three lengths
    padded = agent.score(units)
    agent.pack_sequences = True
    packed = agent.score(units)
    assert packed.logprobs.numel() < padded.logprobs.numel()  # fewer (rows x width) positions
    assert [id(t) for t in packed.turns] == [id(t) for t in padded.turns]
    for k in range(len(padded.turns)):
        mine = packed.token_turn == k
        theirs = padded.token_turn == k
        mine, theirs = mine & (packed.mask > 0), theirs & (padded.mask > 0)
        assert torch.allclose(packed.logprobs[mine], padded.logprobs[theirs], atol=1e-5)
        assert torch.allclose(packed.entropy[mine], padded.entropy[theirs], atol=1e-5)
        assert torch.equal(packed.old_logprobs[mine], padded.old_logprobs[theirs])


def test_packing_and_gradient_checkpointing_leave_the_update_unchanged(tiny_tokenizer):
    agent = _agent(tiny_tokenizer, value_head=True)
    batch = _rollout(agent.policy, episodes=6, max_turns=4)
    reference, reference_stats = _trained_weights(agent, batch, advantage="turn")
    initial = torch.cat([p.detach().flatten() for p in agent.parameters()])
    assert (reference - initial).abs().max() > 1e-3  # the update does move the weights
    agent.pack_sequences = True
    packed, packed_stats = _trained_weights(agent, batch, advantage="turn")
    assert torch.allclose(reference, packed, atol=1e-5)
    assert abs(reference_stats["learner/loss"] - packed_stats["learner/loss"]) < 1e-5
    checkpointed = _agent(tiny_tokenizer, value_head=True, gradient_checkpointing=True)
    checkpointed.model.load_state_dict(agent.model.state_dict())
    checkpointed.value_head.load_state_dict(agent.value_head.state_dict())
    assert _checkpointing(checkpointed.model) and not _checkpointing(checkpointed.policy.model)
    weights, _ = _trained_weights(checkpointed, batch, advantage="turn")
    assert torch.allclose(reference, weights, atol=1e-5)


def _checkpointing(model) -> bool:
    return any(getattr(module, "gradient_checkpointing", False) for module in model.modules())


def test_a_model_that_mixes_packed_segments_is_refused(tiny_tokenizer):
    class Leaky(torch.nn.Module):  # ignores position ids: packed segments see each other
        def __init__(self, model):
            super().__init__()
            self.model, self.config = model, model.config

        def forward(self, input_ids, attention_mask=None, position_ids=None, **kwargs):
            return self.model(input_ids=input_ids, attention_mask=attention_mask, **kwargs)

    model = Leaky(tiny_causal_lm(hidden_size=32, num_layers=1, num_heads=2, seed=0))
    with pytest.raises(ValueError, match="mixes packed segments"):
        LMAgent(model, tiny_tokenizer, GenerationConfig(), pack_sequences=True)


def test_config_checks_off_policy_settings():
    from agentrl.core.config import ConfigError
    from agentrl.train.config import load_config

    with pytest.raises(ConfigError, match="rl.importance_correction must be one of none, tis, decoupled"):
        load_config("quickstart", {"rl": {"importance_correction": "vtrace"}})
    with pytest.raises(ConfigError, match="rl.is_level must be one of token, turn"):
        load_config("quickstart", {"rl": {"is_level": "episode"}})
    with pytest.raises(ConfigError, match="rl.is_cap must be >= 1.0"):
        load_config("quickstart", {"rl": {"is_cap": 0.5}})
    with pytest.raises(ConfigError, match="rl.max_staleness must be >= 0"):
        load_config("quickstart", {"rl": {"max_staleness": -1}})
    with pytest.raises(ConfigError, match="rl.async_rollouts .* use rollout.backend local or ray"):
        load_config("quickstart", {"rl": {"async_rollouts": True}, "rollout": {"backend": "selfplay"}})
    assert load_config("quickstart", {"rl": {"is_cap": "null"}}).rl.is_cap is None


def test_the_packing_example_in_the_docs_runs(capsys):
    import re
    from pathlib import Path

    text = (Path(__file__).resolve().parents[2] / "docs" / "async.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.DOTALL)
    assert blocks
    for block in blocks:
        exec(compile(block, "docs/async.md", "exec"), {})
    assert "torch.Size([3, 9]) torch.Size([2, 9])" in capsys.readouterr().out
