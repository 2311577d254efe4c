"""``agentrl export``: a run's model as a transformers folder that plain transformers and ``hf:DIR``
load, with the same weights and the same behaviour as the checkpoint; LoRA merged or as an adapter."""

import json

import pytest
import torch
from tiny_models import save_tiny_qwen2
from transformers import AutoModelForCausalLM

import agentrl
from agentrl.core.config import ConfigError
from agentrl.eval.policy_specs import make_policy
from agentrl.rollout import grouped_specs, run_episodes
from agentrl.train.export import export_run
from agentrl.train.restore import restore_run
from train_configs import tiny_run_config


def small(tmp_path, name="run", **sections):
    return tiny_run_config(tmp_path, name, {"sft": {"steps": 4}, "rl": {"iterations": 1}, "eval": {"episodes": 2, "every": 1},
                            "run": {"tensorboard": False}},
                           **sections)


def logits(model, tokens=(5, 17, 40, 3, 99, 12)):
    with torch.no_grad():
        return model(input_ids=torch.tensor([list(tokens)])).logits


def actions(policy, seeds=range(40, 44)):
    envs = [agentrl.make("agentrl/Sokoban-v0", max_turns=4) for _ in range(2)]
    batch = run_episodes(envs, policy.evaluation_view(greedy=True, seed=0), grouped_specs(seeds, 1))
    return [[turn.action for turn in t.turns] for t in batch]


def test_full_model_round_trip(tmp_path):
    result = agentrl.train(small(tmp_path))
    out = tmp_path / "exported"
    exported = export_run(result.output_dir, out)
    assert exported.kind == "model" and exported.iteration == 1
    model = AutoModelForCausalLM.from_pretrained(out)  # plain transformers
    trained = restore_run(result.output_dir).agent.language_model
    assert model.state_dict().keys() == trained.state_dict().keys()
    assert all(torch.equal(model.state_dict()[k], v) for k, v in trained.state_dict().items())
    policy = make_policy(f"hf:{out}")  # reads the run's generation settings
    assert (policy.config.context, policy.config.system_prompt, policy.config.max_new_tokens) == ("last", False, 5)
    assert actions(policy) == actions(make_policy(f"checkpoint:{result.output_dir}"))
    meta = json.loads((out / "agentrl_export.json").read_text())
    assert meta["iteration"] == 1 and meta["kind"] == "model" and meta["value_head_exported"] is False


def test_lora_merged_round_trip(tmp_path):
    result = agentrl.train(small(tmp_path, policy={"lora": {"enabled": True, "r": 4, "alpha": 8}}))
    adapted = restore_run(result.output_dir).agent.language_model
    expected = logits(adapted)
    out = tmp_path / "merged"
    assert export_run(result.output_dir, out, merge_lora=True).kind == "merged"
    assert not (out / "adapter_config.json").exists()
    model = AutoModelForCausalLM.from_pretrained(out)
    assert not any("lora" in name for name in model.state_dict())
    assert torch.allclose(logits(model), expected, atol=1e-5)
    assert actions(make_policy(f"hf:{out}")) == actions(make_policy(f"checkpoint:{result.output_dir}"))


def test_lora_adapter_round_trip_on_a_local_base(tmp_path):
    """Unmerged: a peft adapter naming the run's base folder, which transformers loads through peft."""
    base = save_tiny_qwen2(tmp_path / "tiny-qwen2")
    result = agentrl.train(small(tmp_path, policy={"model": str(base), "lora": {"enabled": True, "r": 4, "alpha": 8}}))
    expected = logits(restore_run(result.output_dir).agent.language_model)
    out = tmp_path / "adapter"
    assert export_run(result.output_dir, out).kind == "adapter"
    config = json.loads((out / "adapter_config.json").read_text())
    assert config["base_model_name_or_path"] == str(base.resolve())
    model = AutoModelForCausalLM.from_pretrained(out)
    assert torch.allclose(logits(model), expected, atol=1e-5)
    assert not torch.allclose(logits(AutoModelForCausalLM.from_pretrained(base)), expected, atol=1e-5)


def test_export_refuses_what_it_cannot_write(tmp_path):
    lora = agentrl.train(small(tmp_path, "lora", policy={"lora": {"enabled": True, "r": 4, "alpha": 8}}))
    with pytest.raises(ConfigError, match="built-in tiny model.*--merge-lora"):
        export_run(lora.output_dir, tmp_path / "a")
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not empty"):
        export_run(lora.output_dir, tmp_path / "full", merge_lora=True)
    grid = agentrl.train(small(tmp_path, "grid", env={"kwargs": {"max_turns": 4, "observation_mode": "dict"}},
                               policy={"kind": "grid", "grid_net": "mlp", "grid_hidden": 16}, sft={"episodes": 0}))
    with pytest.raises(ConfigError, match="policy.kind=grid"):
        export_run(grid.output_dir, tmp_path / "g")
