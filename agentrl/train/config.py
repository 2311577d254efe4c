"""Typed training configuration. Presets ship as YAML files in ``agentrl/presets``.

``agentrl train --config FILE key=value ...`` and ``agentrl.train(config, **overrides)`` build the
same :class:`TrainConfig`; unknown keys raise an error listing the valid ones, and every value is
range-checked when the config is built.

Every setting is declared once: the policy's generation keys *are* :class:`GenerationConfig`'s fields
(``PolicyConfig`` extends it), the Ray keys are :class:`~agentrl.rollout.ray.RayConfig`'s, and choice
lists come from the tables that implement them (advantage estimators, baselines, rollout backends).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from agentrl.core.config import ConfigError, build_config, check_choice, check_range, config_to_dict
from agentrl.policies.generation import GenerationConfig
from agentrl.rollout.ray import RayConfig
from agentrl.train.advantages import BASELINES, ESTIMATORS
from agentrl.train.rollouts import ROLLOUT_BACKENDS

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "quickstart"
POLICY_KINDS = ("lm", "grid")
GRID_NETS = ("cnn", "mlp")


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

    def __post_init__(self) -> None:
        for name in ("hidden_size", "num_layers", "num_heads"):
            check_range(f"tiny.{name}", getattr(self, name), 1)
        if self.hidden_size % self.num_heads:
            raise ValueError(f"tiny.hidden_size ({self.hidden_size}) must be a multiple of num_heads ({self.num_heads})")


@dataclass
class LoraSettings:
    enabled: bool = False
    """Train LoRA adapters (peft) instead of all weights."""
    r: int = 8
    alpha: int = 16
    dropout: float = 0.0
    target_modules: list[str] | None = None
    """Module names to adapt (None: peft's default for the architecture)."""

    def __post_init__(self) -> None:
        check_range("lora.r", self.r, 1)
        check_range("lora.dropout", self.dropout, 0.0, 1.0)


@dataclass
class PolicyConfig(GenerationConfig):
    """The acting policy: its kind and model, plus every generation setting of :class:`GenerationConfig`."""

    kind: str = "lm"
    """``lm`` (transformers causal LM) or ``grid`` (torch CNN/MLP on the env's numeric grid)."""
    model: str = "tiny"
    """Local path or Hugging Face name of the causal LM; ``tiny`` builds the offline tiny model."""
    tiny: TinyModelConfig = field(default_factory=TinyModelConfig)
    """Size of the tiny model (used when ``model=tiny``)."""
    lora: LoraSettings = field(default_factory=LoraSettings)
    value_head: bool = False
    """Add a value head (needed by ``rl.advantage=gae``)."""
    grid_net: str = "cnn"
    """``cnn`` or ``mlp`` (grid policies)."""
    grid_hidden: int = 128

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("policy.kind", self.kind, POLICY_KINDS)
        check_choice("policy.grid_net", self.grid_net, GRID_NETS)
        check_range("policy.grid_hidden", self.grid_hidden, 1)

    def generation(self) -> GenerationConfig:
        """The generation settings alone (what an acting LM policy takes)."""
        return GenerationConfig(**{f.name: getattr(self, f.name) for f in dataclasses.fields(GenerationConfig)})


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

    def __post_init__(self) -> None:
        check_range("sft.episodes", self.episodes, 0)
        check_range("sft.relabel_epsilon", self.relabel_epsilon, 0.0, 1.0)
        check_range("sft.steps", self.steps, 0)
        check_range("sft.batch_size", self.batch_size, 1)
        check_range("sft.lr", self.lr, 0.0, low_open=True)


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
    ``episode`` (group-baselined episode return broadcast to every turn, as GRPO) or ``gae``
    (value head, PPO). See :mod:`agentrl.train.advantages`."""
    baseline: str = "rloo"
    """Group baseline for ``episode``: ``mean``, ``mean_std`` or ``rloo``."""
    gamma: float = 1.0
    """Default per-turn discount (ADS overrides it per turn)."""
    gae_lambda: float = 0.95
    normalize_advantages: bool = True
    """Divide advantages by their batch standard deviation."""
    step_weight: float = 1.0
    """Weight ``w`` of OPRL's step-advantage term ``A = A_outcome + w * A_step`` (when a PRM stage runs)."""
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

    def __post_init__(self) -> None:
        check_range("rl.iterations", self.iterations, 0)
        for name in ("tasks_per_iteration", "group_size", "num_envs", "epochs", "minibatch_size", "grad_accumulation"):
            check_range(f"rl.{name}", getattr(self, name), 1)
        check_choice("rl.advantage", self.advantage, tuple(ESTIMATORS))
        check_choice("rl.baseline", self.baseline, BASELINES)
        check_range("rl.gamma", self.gamma, 0.0, 1.0)
        check_range("rl.gae_lambda", self.gae_lambda, 0.0, 1.0)
        check_range("rl.step_weight", self.step_weight, 0.0)
        check_range("rl.lr", self.lr, 0.0, low_open=True)
        check_range("rl.clip", self.clip, 0.0, low_open=True)
        check_range("rl.kl_coef", self.kl_coef, 0.0)
        check_range("rl.entropy_coef", self.entropy_coef)
        check_range("rl.value_coef", self.value_coef, 0.0)
        check_range("rl.max_grad_norm", self.max_grad_norm, 0.0, low_open=True)


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

    def __post_init__(self) -> None:
        check_range("eval.episodes", self.episodes, 0)
        check_range("eval.every", self.every, 1)


@dataclass
class SelfPlayConfig:
    env: str = "agentrl.envs.multiagent.bargaining:raw_env"
    """``module:factory`` of the multi-agent env; the learner plays every seat."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Keyword arguments for the factory."""


@dataclass
class RolloutConfig:
    backend: str = "local"
    """Where episodes are played: ``local`` (envs in this process), ``ray`` (envs on Ray actors) or
    ``selfplay`` (a multi-agent env where the policy plays every seat; ``env`` is still used for
    evaluation)."""
    threads: int = 1
    """``local``: threads stepping the envs (overlaps I/O waits such as sandbox commands or HTTP calls)."""
    ray: RayConfig = field(default_factory=RayConfig)
    selfplay: SelfPlayConfig = field(default_factory=SelfPlayConfig)

    def __post_init__(self) -> None:
        check_choice("rollout.backend", self.backend, tuple(ROLLOUT_BACKENDS))
        check_range("rollout.threads", self.threads, 1)


@dataclass
class RunConfig:
    output_dir: str = "runs/quickstart"
    seed: int = 0
    checkpoint_every: int = 5
    """Write a checkpoint every N iterations (and at the end)."""
    resume: bool = True
    """Continue from the latest checkpoint in ``output_dir`` when there is one."""
    device: str = "auto"
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    bf16: bool = True
    """Use bfloat16 autocast on CUDA."""
    threads: int = 0
    """torch CPU threads (0: torch's default)."""
    progress: bool = True
    """Show progress bars."""
    tensorboard: bool = True

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"run.device must be one of auto, cpu, cuda, cuda:N; got {self.device!r}")
        check_range("run.checkpoint_every", self.checkpoint_every, 1)
        check_range("run.threads", self.threads, 0)


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
    rollout: RolloutConfig = field(default_factory=RolloutConfig)

    def __post_init__(self) -> None:
        if self.rl.advantage == "gae" and not (self.policy.value_head or self.policy.kind == "grid"):
            raise ValueError("rl.advantage=gae needs a value head: set policy.value_head=true")
        if isinstance(self.rewards, str) and self.rewards != "preset":
            raise ValueError(f"rewards must be a list of stage configs, 'preset' or null; got {self.rewards!r}")


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
