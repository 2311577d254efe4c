"""Typed training configuration. Presets ship as YAML files in ``agentrl/presets``.

``agentrl train --config FILE key=value ...`` and ``agentrl.train(config, **overrides)`` build the
same :class:`TrainConfig`; unknown keys raise an error listing the valid ones.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from agentrl.core.config import ConfigError, build_config, check_choice, config_to_dict

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "quickstart"


@dataclass
class EnvConfig:
    id: str = "agentrl/Sokoban-v0"
    """Registered env id to train on."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Env config overrides passed to ``agentrl.make``."""
    eval_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra overrides for evaluation envs (on top of ``kwargs``)."""


@dataclass
class TinyModelConfig:
    hidden_size: int = 128
    num_layers: int = 4
    num_heads: int = 4


@dataclass
class LoraSettings:
    enabled: bool = False
    """Train LoRA adapters (peft) instead of all weights."""
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] | None = None
    """Module names to adapt (None: peft's default for the architecture)."""


@dataclass
class PolicyConfig:
    kind: str = "lm"
    """``lm`` (transformers causal LM) or ``grid`` (torch CNN/MLP on the env's numeric grid)."""
    model: str = "tiny"
    """Local path or Hugging Face name of the causal LM; ``tiny`` builds the offline tiny model."""
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)
    """Size of the tiny model (used when ``model=tiny``)."""
    lora: LoraSettings = field(default_factory=LoraSettings)
    max_new_tokens: int = 16
    """Per-turn generation cap."""
    max_context_tokens: int = 2048
    """Context cap; episodes that would exceed it end truncated (flagged in the trajectory)."""
    temperature: float = 1.0
    context: str = "full"
    """``full`` (one growing multi-turn context) or ``last`` (fresh prompt every turn)."""
    system_prompt: bool = True
    """Send the env's instructions as the system message."""
    value_head: bool = False
    """Add a value head (needed by ``rl.advantage=gae``)."""
    grid_net: str = "cnn"
    """``cnn`` or ``mlp`` (grid policies)."""
    grid_hidden: int = 128


@dataclass
class SFTConfig:
    episodes: int = 0
    """Expert demonstration episodes for the warm start (0 disables SFT)."""
    relabel_epsilon: float = 0.2
    """The demonstrator takes a random move with this probability, and every visited state is
    labelled with the expert's move, so the student also learns to recover from mistakes."""
    steps: int = 1000
    batch_size: int = 64
    lr: float = 1e-3
    demo_seed: int = 1_000_000
    """First seed of demonstration tasks (kept apart from RL and evaluation seeds)."""


@dataclass
class RLConfig:
    iterations: int = 20
    tasks_per_iteration: int = 16
    """Distinct tasks (seeds) per iteration."""
    group_size: int = 4
    """Samples per task (the group used by group baselines)."""
    num_envs: int = 32
    """Episodes played at once."""
    advantage: str = "turn"
    """``turn`` (per-turn return-to-go, leave-one-out group baseline at each turn index),
    ``episode`` (group-normalised episode return broadcast to every turn, as GRPO) or ``gae``
    (value head, PPO)."""
    baseline: str = "rloo"
    """Group baseline for ``episode``: ``mean``, ``mean_std`` or ``rloo``."""
    gamma: float = 1.0
    """Default per-turn discount (ADS overrides it per turn)."""
    gae_lambda: float = 0.95
    normalize_advantages: bool = True
    """Divide advantages by their batch standard deviation."""
    lr: float = 1e-4
    clip: float = 0.2
    epochs: int = 1
    """Passes over each batch (PPO epochs)."""
    minibatch_size: int = 64
    """Turns (grid) or segments (LM) per optimizer step."""
    grad_accumulation: int = 1
    """Micro-batches per minibatch (memory); gradients are accumulated."""
    kl_coef: float = 0.0
    """Weight of the KL penalty to the frozen reference policy (0 disables the reference)."""
    entropy_coef: float = 0.0
    value_coef: float = 0.5
    max_grad_norm: float = 1.0


@dataclass
class EvalConfig:
    episodes: int = 64
    """Held-out evaluation episodes."""
    every: int = 5
    """Evaluate every N RL iterations (and before and after training)."""
    seed: int = 10_000_000
    """First held-out seed (never used for training)."""
    greedy: bool = False
    """Decode greedily in evaluation (sampling otherwise)."""


@dataclass
class RayConfig:
    num_workers: int = 2
    envs_per_worker: int = 8
    address: str | None = None
    """Ray cluster address (default: the RAY_ADDRESS variable, else a local instance)."""
    worker_num_cpus: float = 1.0
    """CPUs reserved per rollout worker actor."""
    threads_per_worker: int = 1
    """Threads stepping envs inside a worker (overlaps I/O waits such as sandbox commands)."""
    max_worker_restarts: int = 10
    """Dead workers replaced before the run gives up."""


@dataclass
class SelfPlayConfig:
    env: str = "agentrl.envs.multiagent.bargaining:raw_env"
    """``module:factory`` of the multi-agent env; the learner plays every seat."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the factory."""


@dataclass
class RunConfig:
    output_dir: str = "runs/quickstart"
    seed: int = 0
    checkpoint_every: int = 5
    """Write a checkpoint every N iterations (and at the end)."""
    resume: bool = True
    """Continue from the latest checkpoint in ``output_dir`` when there is one."""
    device: str = "auto"
    """``auto`` (CUDA when present, else CPU), ``cpu`` or ``cuda``."""
    bf16: bool = True
    """Use bfloat16 autocast on CUDA."""
    threads: int = 0
    """torch CPU threads (0: torch's default)."""
    progress: bool = True
    """Show progress bars."""
    tensorboard: bool = True


@dataclass
class TrainConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    rewards: list[dict[str, Any]] | str | None = None
    """Reward pipeline: a list of stage configs, ``preset`` for the env's preset, or None (raw rewards)."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    run: RunConfig = field(default_factory=RunConfig)
    backend: str = "local"
    """``local`` (in-process rollouts), ``ray`` (rollout workers on Ray actors) or ``selfplay``
    (a multi-agent env where the policy plays every seat; ``env`` is still used for evaluation)."""
    ray: RayConfig = field(default_factory=RayConfig)
    selfplay: SelfPlayConfig = field(default_factory=SelfPlayConfig)

    def __post_init__(self) -> None:
        check_choice("policy.kind", self.policy.kind, ("lm", "grid"))
        check_choice("rl.advantage", self.rl.advantage, ("turn", "episode", "gae"))
        check_choice("rl.baseline", self.rl.baseline, ("mean", "mean_std", "rloo"))
        check_choice("backend", self.backend, ("local", "ray", "selfplay"))
        check_choice("policy.context", self.policy.context, ("full", "last"))
        if self.rl.advantage == "gae" and not (self.policy.value_head or self.policy.kind == "grid"):
            raise ValueError("rl.advantage=gae needs a value head: set policy.value_head=true")


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str) -> dict[str, Any]:
    path = PRESET_DIR / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown preset {name!r}; presets: {', '.join(list_presets())}")
    return yaml.safe_load(path.read_text()) or {}


def load_config(
    source: TrainConfig | Mapping[str, Any] | str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Build a config from a preset name, a YAML path, a mapping or a config, plus overrides.

    ``None`` means the quickstart preset.
    """
    if source is None:
        source = DEFAULT_PRESET
    if isinstance(source, (str, Path)):
        path = Path(source)
        if path.suffix in (".yaml", ".yml", ".json") or path.exists():
            if not path.exists():
                raise ConfigError(f"config file {str(path)!r} not found")
            source = yaml.safe_load(path.read_text()) or {}
        else:
            source = load_preset(str(source))
    return build_config(TrainConfig, source, overrides or {}, where="train config")


def dump_config(config: TrainConfig) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)
