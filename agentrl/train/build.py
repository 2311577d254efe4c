"""Construction of the pieces a run needs, from its config: the device, the agent, the reward pipeline."""

from __future__ import annotations

import logging
from typing import Any

import torch

from agentrl.core.config import ConfigError
from agentrl.core.env import TextEnv
from agentrl.core.extras import optional_module
from agentrl.core.registry import env_class
from agentrl.models.loading import load_causal_lm, load_tokenizer
from agentrl.policies.grid import GridNet
from agentrl.rewards.pipeline import RewardPipeline
from agentrl.train.agents import Agent, GridAgent, LMAgent
from agentrl.train.config import TrainConfig

log = logging.getLogger("agentrl.train")


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(f"run.device={name} but no CUDA device is available; use run.device=auto or cpu")
    return torch.device(name)


def build_agent(config: TrainConfig, probe_env, device: torch.device) -> Agent:
    """The trainable agent the config describes (``policy.kind``)."""
    if config.policy.kind == "grid":
        return _grid_agent(config, probe_env, device)
    return _lm_agent(config, device)


def _lm_agent(config: TrainConfig, device: torch.device) -> LMAgent:
    p = config.policy
    tokenizer = load_tokenizer(p.model)
    tiny = {"hidden_size": p.tiny.hidden_size, "num_layers": p.tiny.num_layers, "num_heads": p.tiny.num_heads,
            "seed": config.run.seed}
    model = load_causal_lm(p.model, tiny_kwargs=tiny)
    if p.lora.enabled:
        model = _with_lora(model, p.lora)
    return LMAgent(model, tokenizer, p.generation(), value_head=p.value_head, device=device, seed=config.run.seed,
                   bf16=config.run.bf16, pack_sequences=p.pack_sequences,
                   gradient_checkpointing=p.gradient_checkpointing, acting=_acting_engine(config, tokenizer))


def _acting_engine(config: TrainConfig, tokenizer):
    """The acting policy of ``policy.engine`` when it is not the default transformers one."""
    p = config.policy
    if p.engine == "hf":
        return None
    vllm = optional_module("agentrl.policies.vllm", "vllm")
    return vllm.VLLMPolicy(p.model, tokenizer, p.generation(), p.vllm)  # says how to install vLLM when missing


def _with_lora(model, lora):
    try:
        peft = optional_module("peft", "trl")
    except ImportError as exc:
        raise ConfigError(f"policy.lora.enabled needs peft: {exc}") from exc
    settings = peft.LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                               target_modules=lora.target_modules, task_type="CAUSAL_LM")
    return peft.get_peft_model(model, settings)


def _grid_agent(config: TrainConfig, env, device: torch.device) -> GridAgent:
    space = env.observation_space
    if not hasattr(space, "spaces") or "grid" not in space.spaces:
        raise ConfigError(
            f"policy.kind=grid needs dict observations with a 'grid' entry; {config.env.id} gives {space}. "
            "Set env.kwargs.observation_mode=dict."
        )
    env.reset(seed=0)
    base = env.unwrapped
    actions = base.available_actions() if isinstance(base, TextEnv) else None
    if not actions:
        raise ConfigError(f"policy.kind=grid needs an env that lists its actions; {config.env.id} does not")
    grid = space.spaces["grid"]
    torch.manual_seed(config.run.seed)
    net = GridNet(grid.shape, int(grid.high.max()) + 1, len(actions), kind=config.policy.grid_net,
                  hidden=config.policy.grid_hidden)
    return GridAgent(net, actions, device=device, seed=config.run.seed, tag=base.config.action_format.answer_tag)


def build_pipeline(config: TrainConfig) -> RewardPipeline | None:
    """The reward pipeline, or None when the run trains on raw rewards.

    ``rewards: null`` (the default) means: raw rewards, unless the env says its immediate rewards are
    farmable without its preset (SWE: tool calls and edits pay a little every turn); then the preset
    is used and the log says so. ``rewards: []`` forces raw rewards.
    """
    rewards = config.rewards
    if rewards is None and getattr(env_class(config.env.id), "needs_reward_preset", False):
        log.info("rewards: using %s's reward preset (its immediate rewards are farmable without its G-RA gate); "
                 "set rewards: [] to train on raw rewards", config.env.id)
        rewards = "preset"
    return reward_pipeline(rewards, config.env.id, max_turns=config.env.kwargs.get("max_turns"))


def reward_pipeline(rewards: list[dict[str, Any]] | dict[str, Any] | str | None, env_id: str, *,
                    max_turns: int | None = None) -> RewardPipeline | None:
    """The pipeline a ``rewards`` setting names for ``env_id``: stage configs, ``preset`` (the env's
    shipped pipeline), or None / ``[]`` for raw rewards (returns None)."""
    if rewards is None or rewards == []:
        return None
    if rewards == "preset":
        return RewardPipeline.preset(env_id, max_turns=max_turns)
    if isinstance(rewards, dict):
        options = {k: v for k, v in rewards.items() if k != "preset"}
        return RewardPipeline.preset(env_id, max_turns=max_turns, **options)
    if isinstance(rewards, str):
        raise ConfigError(f"rewards must be a list of stage configs, 'preset' or null; got {rewards!r}")
    return RewardPipeline.from_config(rewards)


def describe_pipeline(pipeline: Any) -> str:
    return ", ".join(type(stage).__name__ for stage in pipeline) if pipeline is not None else "raw env rewards"
