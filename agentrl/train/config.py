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
import hashlib
import json
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import yaml

from agentrl.core.config import ConfigError, build_config, check_choice, check_range, config_to_dict
from agentrl.policies.generation import GenerationConfig
from agentrl.policies.vllm import VLLMConfig
from agentrl.rollout.ray import RayConfig
from agentrl.train.advantages import BASELINES, ESTIMATORS
from agentrl.train.losses import CORRECTIONS, IS_LEVELS
from agentrl.train.rollouts import ROLLOUT_BACKENDS

PRESET_DIR = Path(__file__).resolve().parent.parent / "presets"
DEFAULT_PRESET = "quickstart"
POLICY_KINDS = ("lm", "grid")
LR_SCHEDULES = ("constant", "cosine")
#: Keys of a ``rewards`` mapping: the env's preset and the options of ``RewardPipeline.preset``.
PRESET_OPTIONS = ("preset", "prm", "judge", "horizon", "cache_dir")
GRID_NETS = ("cnn", "mlp")
ENGINES = ("hf", "vllm")
#: Experiment trackers ``run.loggers`` may name (each an optional package).
LOGGERS = ("wandb", "mlflow")


@dataclass
class EnvConfig:
    id: str = "agentrl/Sokoban-v0"
    """Registered env id to train on."""
    kwargs: dict[str, Any] = field(default_factory=dict)
    """Env config overrides passed to ``agentrl.make``."""
    eval_kwargs: dict[str, Any] = field(default_factory=dict)
    """Extra overrides for evaluation envs (on top of ``kwargs``)."""

    def __post_init__(self) -> None:
        for name in ("kwargs", "eval_kwargs"):
            if not isinstance(getattr(self, name), dict):
                raise ValueError(f"env.{name} must be a mapping of env settings, e.g. {{max_turns: 10}}; "
                                 f"got {getattr(self, name)!r}")


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
    pack_sequences: bool = False
    """Learner: score several segments per row, position ids restarting at each (no padding waste;
    needs a transformers model that detects packed position ids: Llama, Qwen2, Mistral, ...)."""
    gradient_checkpointing: bool = False
    """Learner: recompute activations in the backward pass instead of storing them (less memory)."""
    engine: str = "hf"
    """Generation engine of an ``lm`` policy: ``hf`` (transformers, any device) or ``vllm`` (CUDA and
    the ``vllm`` extra; the learner stays a transformers model and syncs its weights into vLLM)."""
    vllm: VLLMConfig = field(default_factory=VLLMConfig)
    """vLLM engine settings (used with ``engine=vllm``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("policy.kind", self.kind, POLICY_KINDS)
        check_choice("policy.grid_net", self.grid_net, GRID_NETS)
        check_choice("policy.engine", self.engine, ENGINES)
        check_range("policy.grid_hidden", self.grid_hidden, 1)
        if self.engine == "vllm":
            if self.kind != "lm" or self.model in ("tiny", "agentrl/tiny"):
                raise ValueError("policy.engine=vllm needs policy.kind=lm and a model folder or hub name "
                                 "(vLLM loads the weights itself; the built-in tiny model has none)")
            if self.lora.enabled:
                raise ValueError("policy.engine=vllm does not take LoRA adapters (their weights would have to "
                                 "be merged at every sync); use policy.engine=hf with LoRA")

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
    lr_schedule: str = "constant"
    """``constant``, or ``cosine``: linear warm-up over ``warmup_steps``, then cosine decay to 0."""
    warmup_steps: int = 0
    demo_seed: int = 1_000_000
    """First seed of demonstration tasks (kept apart from RL and evaluation seeds)."""

    def __post_init__(self) -> None:
        check_choice("sft.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_range("sft.warmup_steps", self.warmup_steps, 0)
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
    informative_groups_only: bool = False
    """Train only on groups whose episodes reached different outcomes (DAPO's dynamic-sampling
    filter, without DAPO's resampling to refill the batch: the update is simply smaller): when most
    groups all succeed, their near-zero advantages would dilute the update and cost most of its time.
    Rollout metrics still count every episode."""
    step_weight: float = 1.0
    """Weight ``w`` of OPRL's step-advantage term ``A = A_outcome + w * A_step`` (when a PRM stage runs)."""
    lr: float = 1e-4
    warmup_iterations: int = 0
    """Raise the learning rate linearly from ``lr / N`` to ``lr`` over the first ``N`` RL iterations.
    Adam's first steps move every weight by about ``lr`` whatever the gradient's size, while its
    moment estimates hold only the first few (noisy) batches."""
    lr_schedule: str = "constant"
    """After the warm-up: ``constant``, or ``cosine`` (from ``lr`` down towards 0 at the last
    iteration, so the last updates move the policy least and the run ends where it has converged
    rather than on one noisy step)."""
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
    async_rollouts: bool = False
    """Play episodes in a background thread with the latest weights while the learner trains (see
    docs/async.md); each iteration trains on the next complete groups the actors finished."""
    max_staleness: int = 1
    """The learner never trains on a trajectory with a turn sampled more than this many policy
    versions ago (a version is one RL iteration's update); with ``async_rollouts`` it also bounds how
    far the actors run ahead (0: no overlap)."""
    importance_correction: str = "none"
    """Off-policy correction from the stored behaviour log-probs: ``none`` (PPO ratio against the
    behaviour policy), ``tis`` (ratio against the update's starting weights, times the truncated
    weight ``min(pi_prox / pi_behav, is_cap)``, as SkyRL/verl) or ``decoupled`` (AReaL's decoupled
    PPO: the same, tokens whose weight exceeds ``is_cap`` left out)."""
    is_level: str = "token"
    """Importance weights per ``token``, or per ``turn`` (the product of the turn's token ratios)."""
    is_cap: float | None = 2.0
    """Cap of the importance weight (>= 1; null: no cap)."""

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
        check_range("rl.warmup_iterations", self.warmup_iterations, 0)
        check_choice("rl.lr_schedule", self.lr_schedule, LR_SCHEDULES)
        check_range("rl.clip", self.clip, 0.0, low_open=True)
        check_range("rl.kl_coef", self.kl_coef, 0.0)
        check_range("rl.entropy_coef", self.entropy_coef)
        check_range("rl.value_coef", self.value_coef, 0.0)
        check_range("rl.max_grad_norm", self.max_grad_norm, 0.0, low_open=True)
        check_range("rl.max_staleness", self.max_staleness, 0)
        if not isinstance(self.max_staleness, int):
            raise ValueError(f"rl.max_staleness must be a whole number of versions, got {self.max_staleness!r}")
        check_choice("rl.importance_correction", self.importance_correction, CORRECTIONS)
        check_choice("rl.is_level", self.is_level, IS_LEVELS)
        if self.is_cap is not None:
            check_range("rl.is_cap", self.is_cap, 1.0)


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
    waves: int = 1
    """``local``/``ray``: split the env slots into this many waves that take turns, so the policy
    chooses one wave's actions while the other waves' env steps run (generation overlaps env waits;
    ``local`` needs ``threads`` >= the slots of a wave to step them at once; ``ray`` needs it to divide
    ``ray.num_workers``). 1: one round for all slots."""
    policy_process: bool = False
    """With ``rl.async_rollouts``: the actors' policy runs in a child process with its own copy of the
    weights (sent after every update), so generation and the learner do not take turns on one
    Python interpreter lock; best on CPUs and small models (see docs/async.md)."""
    ray: RayConfig = field(default_factory=RayConfig)
    selfplay: SelfPlayConfig = field(default_factory=SelfPlayConfig)

    def __post_init__(self) -> None:
        check_choice("rollout.backend", self.backend, tuple(ROLLOUT_BACKENDS))
        check_range("rollout.threads", self.threads, 1)
        check_range("rollout.waves", self.waves, 1)


@dataclass
class RunConfig:
    name: str | None = None
    """Short name of the run (default: the config file's or preset's name, else the env's name)."""
    output_dir: str | None = None
    """Where the run writes everything. Default: ``runs/NAME-HASH``, HASH from the settings that
    define the model and the task, so a different experiment never resumes another run's folder."""
    seed: int = 0
    checkpoint_every: int = 5
    """Write a checkpoint every N iterations (and at the end)."""
    keep_last: int = 0
    """Keep only the N newest checkpoints (0: keep all)."""
    resume: bool = True
    """Continue from the latest checkpoint in ``output_dir`` when there is one. The checkpoint's
    config must match: a different model is refused, as is a different task (env, rewards,
    evaluation) unless ``allow_changes``; other changes (learning rate, iterations...) are logged."""
    allow_changes: bool = False
    """Resume even though the task settings changed (env, rewards, evaluation); the changes are logged."""
    device: str = "auto"
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    bf16: bool = True
    """Use bfloat16 autocast on CUDA."""
    threads: int = 1
    """torch CPU threads (0: torch's default, one per core). One is fastest for small models and
    stays fast when other jobs share the CPU (docs/training.md#threads); raise it for a large model
    on a dedicated CPU."""
    progress: bool = True
    """Progress bars on a terminal, a plain progress line every ``log_every_s`` otherwise (false:
    phase lines only)."""
    log_every_s: float = 30.0
    """Seconds between plain progress lines when the output is not a terminal."""
    samples: int = 2
    """Episode transcripts saved per iteration (``samples.jsonl`` and TensorBoard text)."""
    tensorboard: bool = True
    loggers: list[str] = field(default_factory=list)
    """Experiment trackers to log to as well: ``wandb``, ``mlflow`` (optional packages, configured
    by their usual environment variables, e.g. ``WANDB_MODE=offline``, ``MLFLOW_TRACKING_URI``)."""

    def __post_init__(self) -> None:
        if self.device not in ("auto", "cpu", "cuda") and not self.device.startswith("cuda:"):
            raise ValueError(f"run.device must be one of auto, cpu, cuda, cuda:N; got {self.device!r}")
        check_range("run.checkpoint_every", self.checkpoint_every, 1)
        check_range("run.keep_last", self.keep_last, 0)
        check_range("run.threads", self.threads, 0)
        check_range("run.log_every_s", self.log_every_s, 0.0)
        check_range("run.samples", self.samples, 0)
        for logger in self.loggers:
            check_choice("run.loggers", logger, LOGGERS)


@dataclass
class TrainConfig:
    env: EnvConfig = field(default_factory=EnvConfig)
    policy: PolicyConfig = field(default_factory=PolicyConfig)
    sft: SFTConfig = field(default_factory=SFTConfig)
    rl: RLConfig = field(default_factory=RLConfig)
    rewards: list[dict[str, Any]] | dict[str, Any] | str | None = None
    """Reward pipeline: a list of stage configs; ``preset`` (the env's preset); a mapping
    ``{preset: true, prm: "@policy", judge: ..., horizon: ..., cache_dir: ...}`` (the preset with
    options, e.g. OPRL's PRM started from the policy after SFT); ``[]`` (raw env rewards); or null
    (raw rewards, unless the env's immediate rewards are farmable without its preset, as SWE's)."""
    eval: EvalConfig = field(default_factory=EvalConfig)
    run: RunConfig = field(default_factory=RunConfig)
    rollout: RolloutConfig = field(default_factory=RolloutConfig)

    def __post_init__(self) -> None:
        if self.rl.advantage == "gae" and not (self.policy.value_head or self.policy.kind == "grid"):
            raise ValueError("rl.advantage=gae needs a value head: set policy.value_head=true")
        if self.rl.async_rollouts and self.rollout.backend == "selfplay":
            raise ValueError("rl.async_rollouts streams episodes through the rollout engine: use rollout.backend "
                             "local or ray (selfplay plays whole games per call)")
        if self.rollout.waves > self.rl.num_envs:
            raise ValueError(f"rollout.waves ({self.rollout.waves}) cannot exceed rl.num_envs ({self.rl.num_envs}): "
                             "each wave needs at least one env")
        if isinstance(self.rewards, str) and self.rewards.strip().startswith(("{", "[")):
            self.rewards = yaml.safe_load(self.rewards)  # a mapping or list given on the command line
        if isinstance(self.rewards, str) and self.rewards != "preset":
            raise ValueError(f"rewards must be a list of stage configs, 'preset', a preset mapping or null; "
                             f"got {self.rewards!r}")
        if isinstance(self.rewards, dict):
            unknown = set(self.rewards) - set(PRESET_OPTIONS)
            if unknown or not self.rewards.get("preset"):
                raise ValueError(f"a rewards mapping is the env's preset with options: keys {', '.join(PRESET_OPTIONS)} "
                                 f"with preset: true; got {self.rewards!r}")
        if self.run.name is None:
            self.run.name = env_name(self.env.id)
        if not self.run.output_dir:
            self.run.output_dir = f"runs/{self.run.name}-{experiment_hash(self)}"


#: Settings that define the model: a checkpoint's weights only fit a run with the same values.
MODEL_KEYS = ("policy.kind", "policy.model", "policy.tiny", "policy.lora", "policy.value_head",
              "policy.grid_net", "policy.grid_hidden")
#: Settings that define the task and how it is measured: resuming with others needs ``run.allow_changes``.
TASK_KEYS = ("env", "rewards", "eval.seed", "eval.episodes", "eval.greedy", "rollout.selfplay")


def env_name(env_id: str) -> str:
    """``agentrl/Sokoban-v0`` or ``my_module:Guess-v0`` -> ``sokoban-v0`` / ``guess-v0`` (for folder names)."""
    return env_id.rpartition(":")[2].rpartition("/")[2].lower()


def select_keys(flat: Mapping[str, Any], prefixes: tuple[str, ...]) -> dict[str, Any]:
    """The entries of a flattened config whose key is one of ``prefixes`` or lies below one."""
    return {k: v for k, v in flat.items() if any(k == p or k.startswith(p + ".") for p in prefixes)}


def flatten_config(config: TrainConfig | Mapping[str, Any]) -> dict[str, Any]:
    """``{"rl.lr": 1e-4, "env.kwargs": {...}, ...}``: dotted keys down to (but not into) free-form mappings."""
    tree = config_to_dict(config) if dataclasses.is_dataclass(config) else config
    flat: dict[str, Any] = {}

    def walk(node: Mapping[str, Any], prefix: str, cls: type) -> None:
        hints = typing.get_type_hints(cls)
        for key, value in node.items():
            sub = hints.get(key)
            if dataclasses.is_dataclass(sub) and isinstance(value, Mapping):
                walk(value, f"{prefix}{key}.", sub)
            else:
                flat[prefix + key] = value

    walk(tree, "", TrainConfig)
    return flat


def experiment_hash(config: TrainConfig) -> str:
    """8 hex digits identifying the model and the task of ``config`` (names the default output folder)."""
    flat = select_keys(flatten_config(config), MODEL_KEYS + TASK_KEYS)
    return hashlib.sha1(json.dumps(flat, sort_keys=True, default=str).encode()).hexdigest()[:8]


def list_presets() -> list[str]:
    return sorted(p.stem for p in PRESET_DIR.glob("*.yaml"))


def load_preset(name: str) -> dict[str, Any]:
    path = PRESET_DIR / f"{name}.yaml"
    if not path.exists():
        raise ConfigError(f"unknown preset {name!r}; presets: {', '.join(list_presets())}")
    return read_config_file(path)


def read_config_file(path: str | Path) -> dict[str, Any]:
    """The mapping a YAML (or JSON) config file holds; anything else is a :class:`ConfigError`."""
    path = Path(path)
    if not path.exists():
        raise ConfigError(f"config file {str(path)!r} not found")
    if not path.is_file():
        raise ConfigError(f"config {str(path)!r} is a folder; give a YAML file or a preset name "
                          f"({', '.join(list_presets())})")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file {str(path)!r} is not valid YAML: {' '.join(str(exc).split())}") from exc
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise ConfigError(f"config file {str(path)!r} must hold a mapping of sections (env:, policy:, rl: ...), "
                          f"not a {type(data).__name__}")
    return dict(data)


def config_source(source: Mapping[str, Any] | str | Path | None) -> dict[str, Any]:
    """The raw mapping behind a preset name or YAML path (``None``: the quickstart preset), with
    ``run.name`` defaulting to the preset's or file's name."""
    if source is None:
        source = DEFAULT_PRESET
    if isinstance(source, Mapping):
        return dict(source)
    path = Path(source)
    if path.suffix in (".yaml", ".yml", ".json") or path.exists():
        data = read_config_file(path)
    else:
        data = load_preset(str(source))
    run = data.get("run")
    if run is None or (isinstance(run, Mapping) and "name" not in run):
        data["run"] = {**(run or {}), "name": path.stem}
    return data


def load_config(
    source: TrainConfig | Mapping[str, Any] | str | Path | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> TrainConfig:
    """Build a config from a preset name, a YAML path, a mapping or a config, plus overrides.

    ``None`` means the quickstart preset. Overrides merge into the source, except that an override
    of ``env.id`` to another env drops the source's ``env.kwargs`` and ``env.eval_kwargs`` (they
    belong to the other env) unless the overrides set them too.
    """
    if not isinstance(source, TrainConfig):
        source = config_source(source)
    overrides = overrides or {}
    return build_config(TrainConfig, _without_other_envs_kwargs(source, overrides), overrides, where="train config")


def _without_other_envs_kwargs(source: TrainConfig | Mapping[str, Any], overrides: Mapping[str, Any]):
    env = overrides.get("env")
    if not isinstance(env, Mapping) or "id" not in env:
        return source
    base = config_to_dict(source) if isinstance(source, TrainConfig) else dict(source)
    base_env = dict(base.get("env") or {})
    if base_env.get("id", EnvConfig.id) == env["id"]:
        return source
    for key in ("kwargs", "eval_kwargs"):
        base_env.pop(key, None)
    base["env"] = base_env
    if isinstance(source, TrainConfig):  # its derived name and folder belonged to the other env
        base["run"] = {k: v for k, v in base["run"].items() if k not in ("name", "output_dir")}
    return base


def dump_config(config: TrainConfig) -> str:
    return yaml.safe_dump(config_to_dict(config), sort_keys=False)
