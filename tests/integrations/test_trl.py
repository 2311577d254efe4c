"""The TRL adapter: agentrl episodes drive a real GRPOTrainer step; rewards and masks come from the env."""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field

import pytest
import torch

pytest.importorskip("trl")
pytest.importorskip("datasets")
os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")

import agentrl
from agentrl.core import ActionFormat, TextEnv, TextEnvConfig, Transition
from agentrl.core.config import ConfigError
from agentrl.core.registry import UnknownEnvError
from agentrl.integrations import trl as bridge
from agentrl.models import tiny_causal_lm, tiny_tokenizer

VOWELS = set("aeiouAEIOU")


@dataclass
class VowelConfig(TextEnvConfig):
    max_turns: int = 3
    action_format: ActionFormat = field(default_factory=lambda: ActionFormat(answer_tag=None, separator=""))


class VowelEnv(TextEnv):
    """Scores each turn's text by its vowels, so even a random model gets rewards that differ."""

    Config = VowelConfig

    def reset_state(self, seed, options):
        self.said = []

    def step_action(self, action):
        self.said.append(action)
        return Transition(reward_components={"vowels": float(sum(c in VOWELS for c in action))})

    def render_text(self):
        return f"Turn {len(self.said) + 1}: say something."


@pytest.fixture(scope="module")
def vowel_env() -> str:
    # Registered when the tests run, not at import, so the registry-wide conformance run never sees it.
    return agentrl.register("TestVowels-v0", VowelEnv)


def vowel_reward(text: str) -> float:
    """The env's reward for one turn's text, computed here from the env's documented rules."""
    parsed = VowelConfig().action_format.parse(text)
    if not parsed.ok:
        return VowelConfig().format_penalty
    return float(sum(c in VOWELS for c in parsed.actions[0]))


def runs(ids: list[int], mask: list[int], value: int) -> list[list[int]]:
    """Maximal runs of ``ids`` where ``mask == value``."""
    out, current = [], []
    for token, m in zip(ids, mask):
        if m == value:
            current.append(token)
        elif current:
            out.append(current)
            current = []
    return out + ([current] if current else [])


def recording_trainer(model, tokenizer, args, rollout, seeds):
    """A GRPOTrainer that keeps what TRL trains on (ids, masks, advantages) in ``trainer.seen``."""
    from trl import GRPOTrainer

    class Recording(GRPOTrainer):
        def _generate_and_score_completions(self, inputs):
            output = super()._generate_and_score_completions(inputs)
            tensors = {k: v for k, v in output.items() if isinstance(v, torch.Tensor)}
            self.__dict__.setdefault("seen", []).append(tensors)
            return output

    return Recording(model=model, reward_funcs=[bridge.env_reward], args=args,
                     train_dataset=bridge.task_dataset(seeds), processing_class=tokenizer, rollout_func=rollout)


def grpo_args(tmp_path, **overrides):
    from trl import GRPOConfig

    settings = {"output_dir": str(tmp_path / "grpo"), "per_device_train_batch_size": 4, "num_generations": 2,
                "max_steps": 1, "use_cpu": True, "report_to": "none", "logging_steps": 1, "save_strategy": "no",
                "learning_rate": 1e-3, "bf16": False, "scale_rewards": "none", "seed": 0}
    return GRPOConfig(**{**settings, **overrides})


def snapshot(model) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def changed(before, model) -> float:
    return sum((before[k] - v).abs().sum().item() for k, v in model.state_dict().items())


@pytest.mark.slow
def test_one_grpo_step_trains_on_env_rewards_and_masks_env_tokens(tmp_path, vowel_env):
    tokenizer, model = tiny_tokenizer(), tiny_causal_lm(seed=0)
    rollout = bridge.AgentRLRollout(env_id=vowel_env, max_new_tokens=8, system_prompt=False)
    trainer = recording_trainer(model, tokenizer, grpo_args(tmp_path), rollout, seeds=range(8))
    before = snapshot(model)
    trainer.train()

    assert changed(before, model) > 0, "one GRPO step on env rewards must move the weights"
    seen = trainer.seen[-1]
    batch = rollout.last_batch
    assert len(batch) == 4 and all(len(t.turns) == 3 for t in batch)
    recomputed = []
    for row, trajectory in enumerate(batch):
        length = int(seen["completion_mask"][row].sum())
        ids = seen["completion_ids"][row, :length].tolist()
        env_mask = seen["tool_mask"][row, :length].tolist()
        # What TRL trains on (env_mask == 1) decodes to the three actions the env received...
        generated = [tokenizer.decode(run, skip_special_tokens=True) for run in runs(ids, env_mask, 1)]
        assert generated == [turn.action for turn in trajectory.turns]
        # ...and what it masks out is exactly the env's observations of turns 2 and 3.
        masked = [tokenizer.decode(run) for run in runs(ids, env_mask, 0)]
        assert len(masked) == 2
        for k, text in enumerate(masked, start=2):
            assert f"Turn {k}: say something." in text and "<|im_start|>user" in text
        prompt = seen["prompt_ids"][row][seen["prompt_mask"][row].bool()].tolist()
        assert prompt + ids == [tok for turn in trajectory.turns for tok in turn.token_ids]
        recomputed.append(sum(vowel_reward(text) for text in generated))
    # GRPO's advantages (scale_rewards="none": reward minus its group's mean) come from the env's rewards.
    rewards = torch.tensor(recomputed)
    expected = rewards - rewards.view(-1, 2).mean(1).repeat_interleave(2)
    assert torch.allclose(seen["advantages"].cpu(), expected, atol=1e-5)
    assert rewards.tolist() == [t.total_reward for t in batch]


@pytest.mark.slow
def test_constant_env_reward_gives_no_update(tmp_path):
    """Control: a random model's Sokoban turns are all malformed (-0.1 each), so every group's rewards tie,
    the advantages are 0 and the weights must not move. Weight changes above come from the env's reward."""
    tokenizer, model = tiny_tokenizer(), tiny_causal_lm(seed=0)
    rollout = bridge.AgentRLRollout(env_id="agentrl/Sokoban-v0", env_kwargs={"max_turns": 2}, max_new_tokens=6)
    trainer = bridge.grpo_trainer(model, tokenizer, grpo_args(tmp_path), rollout, seeds=range(8))
    before = snapshot(model)
    trainer.train()
    assert all(t.total_reward == pytest.approx(-0.2) for t in rollout.last_batch)
    assert changed(before, model) == 0.0
    log = trainer.state.log_history[0]
    assert log["rewards/env_reward/mean"] == pytest.approx(-0.2)
    assert log["env/success_rate"] == 0.0


# ----------------------------------------------------------------- the rollout without a trainer
@pytest.fixture(scope="module")
def lm():
    return tiny_causal_lm(seed=1), tiny_tokenizer()


def test_sokoban_episode_becomes_one_exact_sample(lm):
    model, tokenizer = lm
    rollout = bridge.AgentRLRollout(env_id="agentrl/Sokoban-v0", env_kwargs={"max_turns": 3}, max_new_tokens=5)
    prompts = [bridge.task_prompt(3)] * 2 + [bridge.task_prompt(4)] * 2
    out = rollout.play(prompts, model, tokenizer, seed=7)
    assert set(out) >= {"prompt_ids", "completion_ids", "logprobs", "env_mask", "env_reward"}
    batch = rollout.last_batch
    assert [t.group_id for t in batch] == prompts and [t.info["seed"] for t in batch] == [3, 3, 4, 4]
    for i, trajectory in enumerate(batch):
        first = trajectory.turns[0]
        assert out["prompt_ids"][i] == first.prompt_ids
        assert out["prompt_ids"][i] + out["completion_ids"][i] == [x for t in trajectory.turns for x in t.token_ids]
        assert len(out["env_mask"][i]) == len(out["completion_ids"][i]) == len(out["logprobs"][i])
        generated = [x for t in trajectory.turns for x in t.completion_ids]
        assert [tok for tok, m in zip(out["completion_ids"][i], out["env_mask"][i]) if m] == generated
        # Env tokens carry no sampling log-prob; generated ones carry the sampler's (negative) one.
        assert all(lp == 0.0 for lp, m in zip(out["logprobs"][i], out["env_mask"][i]) if not m)
        assert all(lp < 0.0 for lp, m in zip(out["logprobs"][i], out["env_mask"][i]) if m)
        assert out["env_reward"][i] == pytest.approx(trajectory.total_reward)
    # The same seed and weights replay the same episodes (sampling is seeded per call).
    again = rollout.play(prompts, model, tokenizer, seed=7)
    assert again["completion_ids"] == out["completion_ids"]


def test_reward_modes_discount_and_outcome(lm, vowel_env):
    model, tokenizer = lm
    prompts = [bridge.task_prompt(1)] * 2
    discounted = bridge.AgentRLRollout(env_id=vowel_env, max_new_tokens=6, gamma=0.5)
    out = discounted.play(prompts, model, tokenizer, seed=3)
    for reward, trajectory in zip(out["env_reward"], discounted.last_batch):
        r = [turn.reward for turn in trajectory.turns]
        assert reward == pytest.approx(r[0] + 0.5 * r[1] + 0.25 * r[2])
    outcome = bridge.AgentRLRollout(env_id=vowel_env, max_new_tokens=6, reward="outcome")
    assert outcome.play(prompts, model, tokenizer, seed=3)["env_reward"] == [0.0, 0.0]


def test_reward_pipeline_field_is_the_grpo_reward(lm, vowel_env):
    """A pipeline stage rewrites fields['reward']; GRPO then sees the field, not the raw reward."""
    class Doubled:
        def __call__(self, batch):
            for turn in batch.turns():
                turn.fields["reward"] = 2.0 * turn.reward
            return batch

    model, tokenizer = lm
    rollout = bridge.AgentRLRollout(env_id=vowel_env, max_new_tokens=6, pipeline=Doubled())
    out = rollout.play([bridge.task_prompt(2)] * 2, model, tokenizer, seed=5)
    for reward, trajectory in zip(out["env_reward"], rollout.last_batch):
        assert reward == pytest.approx(2.0 * trajectory.total_reward)
        assert [t.reward for t in trajectory.turns] == [t.reward_components["vowels"] for t in trajectory.turns]


def test_env_reward_function_passes_the_column_and_logs_success():
    logged = {}
    rewards = bridge.env_reward(["a", "b"], env_reward=[1.5, -0.5], env_success=[True, False],
                                log_metric=lambda name, value: logged.update({name: value}))
    assert rewards == [1.5, -0.5] and logged == {"env/success_rate": 0.5}
    with pytest.raises(ValueError, match="rollout_func"):
        bridge.env_reward(["a"])


# ---------------------------------------------------------------------------------- bad input
def test_prompts_that_are_not_task_keys_are_refused(lm, vowel_env):
    model, tokenizer = lm
    rollout = bridge.AgentRLRollout(env_id=vowel_env)
    with pytest.raises(ValueError, match="task_prompt"):
        rollout.play(["What is 2+2?"], model, tokenizer)
    with pytest.raises(ValueError, match="task_prompt"):
        rollout.play([[{"role": "user", "content": "hi"}]], model, tokenizer)
    assert bridge.parse_task_prompt(bridge.task_prompt(9, {"level": 2})).options == {"level": 2}


def test_first_prompt_that_cannot_fit_is_a_clear_error(lm):
    model, tokenizer = lm
    rollout = bridge.AgentRLRollout(env_id="agentrl/Sokoban-v0", max_context_tokens=20, max_new_tokens=8)
    with pytest.raises(ValueError, match="max_context_tokens"):
        rollout.play([bridge.task_prompt(0)], model, tokenizer)


def test_config_errors_name_the_valid_choices(vowel_env):
    with pytest.raises(ConfigError, match="max_new_tokens"):
        bridge.AgentRLRollout(env_id=vowel_env, max_new_token=4)
    with pytest.raises(ConfigError, match="return, outcome"):
        bridge.AgentRLRollout(env_id=vowel_env, reward="success")
    with pytest.raises(UnknownEnvError, match="Sokoban-v0"):
        bridge.AgentRLRollout(env_id="agentrl/Nope-v0")
    with pytest.raises(ConfigError, match="max_turns"):
        bridge.AgentRLRollout(env_id=vowel_env, env_kwargs={"max_turn": 2})


def test_sampling_settings_it_cannot_honour_are_refused(tmp_path):
    class FakeTrainer:
        top_p, top_k, min_p, repetition_penalty = 0.9, 0, None, 1.0

    with pytest.raises(ValueError, match="top_p=0.9"):
        bridge._check_sampling(FakeTrainer())


def test_missing_trl_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "trl", None)
    with pytest.raises(ImportError, match=r"pip install 'agentrl\[trl\]'"):
        bridge.require_trl()


def test_preset_reward_pipeline_feeds_the_discounted_field_return(lm):
    """rewards='preset' runs the env's shipped pipeline; the GRPO reward is G0 over its fields."""
    from agentrl.train.advantages import discounted_returns

    model, tokenizer = lm
    rollout = bridge.AgentRLRollout(env_id="agentrl/Sokoban-v0", env_kwargs={"max_turns": 3}, max_new_tokens=5,
                                    rewards="preset", system_prompt=False)
    out = rollout.play([bridge.task_prompt(11)] * 2, model, tokenizer, seed=1)
    for reward, trajectory in zip(out["env_reward"], rollout.last_batch):
        fields = [turn.fields for turn in trajectory.turns]
        assert all("reward" in f and "gamma" in f for f in fields)
        expected = discounted_returns([f["reward"] for f in fields], [f["gamma"] for f in fields])[0]
        assert reward == pytest.approx(float(expected))


@pytest.mark.slow
def test_docs_example_runs(tmp_path, monkeypatch, capsys):
    import re
    from pathlib import Path

    doc = Path(__file__).resolve().parents[2] / "docs" / "trl.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text(), flags=re.DOTALL)
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        exec(compile(block, str(doc), "exec"), namespace)
    assert capsys.readouterr().out.splitlines()[-2:] == ["-0.3 0.0", "3 -0.3"]
