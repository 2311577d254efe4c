"""``policy.top_p`` / ``policy.top_k`` reach the acting HFPolicy from a train config, and sampling
honours them; recorded log-probs stay those of the full tempered distribution (what the learner
re-scores)."""

import math

import pytest
import torch

from agentrl.policies.hf import HFPolicy, truncate_distribution
from agentrl.train.build import build_agent
from agentrl.train.config import load_config
from agentrl.train.rollouts import make_envs
from agentrl.rollout import grouped_specs, run_episodes

PROBS = torch.tensor([[0.5, 0.3, 0.15, 0.05]])


def kept(top_k, top_p):
    return torch.isfinite(truncate_distribution(PROBS.log(), top_k, top_p))[0].tolist()


def test_truncation_by_hand():
    assert kept(0, 1.0) == [True, True, True, True]
    assert kept(2, 1.0) == [True, True, False, False]
    assert kept(0, 0.7) == [True, True, False, False]  # mass before token 3 is 0.8 >= 0.7
    assert kept(0, 0.8) == [True, True, False, False]
    assert kept(0, 0.81) == [True, True, True, False]
    assert kept(0, 0.4) == [True, False, False, False]  # the most likely token always stays
    assert kept(3, 0.7) == [True, True, False, False]


def sampled_actions(config_overrides, tmp_path, seeds=range(5)):
    config = load_config(None, {"policy": {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2},
                                           "max_new_tokens": 6, **config_overrides},
                                "run": {"output_dir": str(tmp_path / "unused")}})
    envs = make_envs(config, 2)
    agent = build_agent(config, envs[0], torch.device("cpu"))
    batch = run_episodes(envs, agent.policy, grouped_specs(seeds, 1))
    return agent.policy, [turn for t in batch for turn in t.turns]


def test_top_k_one_samples_the_greedy_tokens_with_full_log_probs(tmp_path):
    policy, turns = sampled_actions({"top_k": 1}, tmp_path)
    assert isinstance(policy, HFPolicy) and policy.config.top_k == 1
    _, greedy_turns = sampled_actions({"greedy": True}, tmp_path)
    assert [t.action for t in turns] == [t.action for t in greedy_turns]
    generated = [lp for t in turns for lp, m in zip(t.logprobs, t.loss_mask) if m]
    assert generated and any(lp < -1e-3 for lp in generated)  # not the truncated distribution's log 1 = 0


def test_top_p_samples_only_the_nucleus_in_proportion():
    """With top_p=0.7 over probabilities (0.5, 0.3, 0.15, 0.05) only the first two tokens are drawn,
    at 0.5/0.8 and 0.3/0.8; the recorded log-probs are the untruncated ones."""
    from agentrl.models import tiny_causal_lm, tiny_tokenizer
    from agentrl.policies.generation import GenerationConfig

    policy = HFPolicy(tiny_causal_lm(hidden_size=16, num_layers=1, num_heads=2), tiny_tokenizer(),
                      GenerationConfig(top_p=0.7), seed=0)
    rows = 4000
    logits = torch.full((rows, 10), -float("inf"))
    logits[:, :4] = PROBS.log()
    _, chosen, logps = policy._pick(logits)
    counts = torch.bincount(torch.tensor(chosen), minlength=10)
    assert counts[2:].sum() == 0
    assert counts[0] / rows == pytest.approx(0.625, abs=0.03)
    assert {round(lp, 4) for lp in logps} == {round(math.log(0.5), 4), round(math.log(0.3), 4)}


@pytest.mark.parametrize("bad", [{"top_p": 0.0}, {"top_p": 1.5}, {"top_k": -1}])
def test_bad_sampling_settings_fail_when_the_config_is_built(bad, tmp_path):
    from agentrl.core.config import ConfigError

    with pytest.raises(ConfigError):
        load_config(None, {"policy": bad})
