"""Construction of the pieces a run needs, from its config: envs, the agent, the reward pipeline."""

from __future__ import annotations

from typing import Any

import torch

from agentrl.core.config import ConfigError
from agentrl.core.registry import make
from agentrl.train.config import TrainConfig


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ConfigError("run.device=cuda but no CUDA device is available; use run.device=auto or cpu")
    return torch.device(name)


def make_envs(config: TrainConfig, count: int, *, evaluation: bool = False) -> list:
    kwargs = dict(config.env.kwargs)
    if evaluation:
        kwargs.update(config.env.eval_kwargs)
    return [make(config.env.id, **kwargs) for _ in range(count)]


def build_agent(config: TrainConfig, probe_env, device: torch.device):
    if config.policy.kind == "grid":
        return _grid_agent(config, probe_env, device)
    return _lm_agent(config, device)


def _lm_agent(config: TrainConfig, device: torch.device):
    from agentrl.models.loading import load_causal_lm, load_tokenizer
    from agentrl.policies.hf import GenerationConfig
    from agentrl.train.agents import LMAgent

    p = config.policy
    tokenizer = load_tokenizer(p.model)
    tiny = {"hidden_size": p.tiny.hidden_size, "num_layers": p.tiny.num_layers, "num_heads": p.tiny.num_heads,
            "seed": config.run.seed}
    model = load_causal_lm(p.model, tiny_kwargs=tiny)
    if p.lora.enabled:
        model = _with_lora(model, p.lora)
    generation = GenerationConfig(max_new_tokens=p.max_new_tokens, max_context_tokens=p.max_context_tokens,
                                  temperature=p.temperature, context=p.context, system_prompt=p.system_prompt)
    return LMAgent(model, tokenizer, generation, value_head=p.value_head, device=device, seed=config.run.seed,
                   bf16=config.run.bf16)


def _with_lora(model, lora):
    try:
        from peft import LoraConfig, get_peft_model
    except ImportError as exc:
        raise ConfigError("policy.lora.enabled needs peft: pip install 'agentrl[trl]'") from exc
    settings = LoraConfig(r=lora.r, lora_alpha=lora.alpha, lora_dropout=lora.dropout,
                          target_modules=lora.target_modules, task_type="CAUSAL_LM")
    return get_peft_model(model, settings)


def _grid_agent(config: TrainConfig, env, device: torch.device):
    from agentrl.policies.grid import GridNet
    from agentrl.train.agents import GridAgent

    space = env.observation_space
    if not hasattr(space, "spaces") or "grid" not in space.spaces:
        raise ConfigError(
            f"policy.kind=grid needs dict observations with a 'grid' entry; {config.env.id} gives {space}. "
            "Set env.kwargs.observation_mode=dict."
        )
    env.reset(seed=0)
    actions = env.unwrapped.available_actions()
    if not actions:
        raise ConfigError(f"policy.kind=grid needs an env that lists its actions; {config.env.id} does not")
    grid = space.spaces["grid"]
    torch.manual_seed(config.run.seed)
    net = GridNet(grid.shape, int(grid.high.max()) + 1, len(actions), kind=config.policy.grid_net,
                  hidden=config.policy.grid_hidden)
    tag = env.unwrapped.config.action_format.answer_tag if hasattr(env.unwrapped, "config") else "answer"
    return GridAgent(net, actions, device=device, seed=config.run.seed, tag=tag)


def build_pipeline(config: TrainConfig) -> Any:
    """The reward pipeline, or None when the run uses raw rewards."""
    return reward_pipeline(config.rewards, config.env.id)


def reward_pipeline(rewards: list[dict[str, Any]] | str | None, env_id: str) -> Any:
    """The pipeline a ``rewards`` setting names for ``env_id``: stage configs, ``preset`` (the env's
    shipped pipeline), or None / ``[]`` for raw rewards (returns None)."""
    if rewards is None or rewards == []:
        return None
    from agentrl.rewards import RewardPipeline

    if rewards == "preset":
        return RewardPipeline.preset(env_id)
    if isinstance(rewards, str):
        raise ConfigError(f"rewards must be a list of stage configs, 'preset' or null; got {rewards!r}")
    return RewardPipeline.from_config(rewards)
