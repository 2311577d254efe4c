"""The real-model recipe preset (qwen2.5-0.5b-lora), run here on a tiny model of the same
architecture saved locally (no weights can be downloaded): it loads from a folder, trains LoRA
adapters only, prompts with the chat template and the env's instructions, and exports."""

import pytest
import torch
from tiny_models import save_tiny_qwen2
from transformers import AutoModelForCausalLM

import agentrl
from agentrl.core.config import ConfigError
from agentrl.core.extras import MissingExtraError
from agentrl.train.checkpoint import load_checkpoint
from agentrl.train.config import load_config
from agentrl.train.export import export_run

PRESET = "qwen2.5-0.5b-lora"


def test_recipe_settings():
    config = load_config(PRESET)
    assert config.policy.model == "Qwen/Qwen2.5-0.5B-Instruct" and config.policy.lora.enabled
    assert set(config.policy.lora.target_modules) == {"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj",
                                                       "up_proj", "down_proj"}
    assert config.policy.system_prompt and config.sft.episodes > 0 and config.rl.lr < config.sft.lr
    assert config.env.kwargs == load_config("quickstart").env.kwargs  # the quickstart's rooms, to compare


def test_recipe_trains_a_local_model_of_the_same_architecture(tmp_path):
    base = save_tiny_qwen2(tmp_path / "qwen2-tiny")
    result = agentrl.train(PRESET, policy={"model": str(base), "max_new_tokens": 8},
                           sft={"episodes": 6, "steps": 3, "batch_size": 4},
                           rl={"iterations": 1, "tasks_per_iteration": 2, "group_size": 2, "num_envs": 4,
                               "minibatch_size": 4, "grad_accumulation": 2},
                           eval={"episodes": 2},
                           run={"output_dir": str(tmp_path / "run"), "progress": False, "tensorboard": False,
                                "threads": 1})
    assert [r["iteration"] for r in result.metrics] == [0, 1]
    state, _ = load_checkpoint(result.checkpoint)
    weights = state["agent"]["model"]
    assert any(v.abs().sum() > 0 for k, v in weights.items() if "lora_B" in k)  # adapters trained
    for name in ("up_proj", "down_proj", "q_proj"):
        assert any(name in k and "lora_A" in k for k in weights)
    original = AutoModelForCausalLM.from_pretrained(base).state_dict()
    frozen = {k.replace("base_model.model.", "").replace(".base_layer", ""): v
              for k, v in weights.items() if "lora_" not in k}
    assert all(torch.equal(frozen[k], v) for k, v in original.items() if k in frozen)
    exported = export_run(result.output_dir, tmp_path / "adapter")
    assert exported.kind == "adapter" and (tmp_path / "adapter" / "adapter_model.safetensors").exists()


def test_recipe_prompts_with_the_chat_template_and_instructions(tmp_path):
    from agentrl.train.build import build_agent
    from agentrl.train.rollouts import make_envs

    base = save_tiny_qwen2(tmp_path / "qwen2-tiny")
    config = load_config(PRESET, {"policy": {"model": str(base), "max_new_tokens": 4},
                                  "run": {"output_dir": str(tmp_path / "r"), "device": "cpu"}})
    envs = make_envs(config, 1)
    agent = build_agent(config, envs[0], torch.device("cpu"))
    batch = agentrl.rollout.run_episodes(envs, agent.policy, agentrl.rollout.grouped_specs([3], 1))
    # (transformers reads this folder's tokenizer as Qwen2's class, whose pre-tokenizer drops the
    # stand-in vocabulary's whitespace; a real Qwen folder ships its own. The markup is what counts.)
    prompt = "".join(agent.tokenizer.convert_ids_to_tokens(batch[0].turns[0].prompt_ids))
    assert prompt.startswith("<|im_start|>system") and "Sokoban" in prompt and "<answer>" in prompt
    assert prompt.rstrip("\n").endswith("<|im_start|>assistant")


def test_vllm_engine_key(tmp_path):
    """``policy.engine=vllm`` is checked when the config is built and, without vLLM installed, fails
    with the install command (it needs CUDA; the vLLM path itself is not run here)."""
    with pytest.raises(ConfigError, match="model folder or hub name"):
        load_config(None, {"policy": {"engine": "vllm"}})
    with pytest.raises(ConfigError, match="does not take LoRA"):
        load_config(PRESET, {"policy": {"engine": "vllm"}})
    config = load_config(PRESET, {"policy": {"engine": "vllm", "lora": {"enabled": False},
                                             "vllm": {"gpu_memory_utilization": 0.3}}})
    assert config.policy.vllm.gpu_memory_utilization == 0.3 and config.policy.vllm.llm_kwargs()["dtype"] == "bfloat16"
    try:
        import vllm  # noqa: F401
    except ImportError:
        pass
    else:
        pytest.skip("vLLM is installed: the error path cannot be shown")
    base = save_tiny_qwen2(tmp_path / "qwen2-tiny")
    with pytest.raises(MissingExtraError, match=r"pip install 'agentrl\[vllm\]'"):
        agentrl.train(PRESET, policy={"model": str(base), "engine": "vllm", "lora": {"enabled": False}},
                      run={"output_dir": str(tmp_path / "v"), "device": "cpu"})
