"""Train on any agentrl environment with TRL's ``GRPOTrainer``.

TRL's trainer owns the algorithm (group-relative advantages, the clipped loss, KL, optimiser,
accelerate/DeepSpeed). agentrl owns the episode. The bridge is TRL's ``rollout_func`` hook:

* every dataset row is a *task key* (:func:`task_prompt`: a reset seed and options), repeated
  ``num_generations`` times by TRL's sampler, so each group plays the same task;
* :class:`AgentRLRollout` plays each key as a full multi-turn episode in ``agentrl.make(env_id)``
  with :class:`~agentrl.policies.hf.HFPolicy` on the trainer's current weights (batched, KV-cached,
  exact token records);
* the episode becomes one TRL sample: ``prompt_ids`` is the first turn's prompt and
  ``completion_ids`` everything after it (generated tokens and the env's later observations, in
  the order the model saw them), with ``env_mask`` = 1 on generated tokens and 0 on env tokens, so
  TRL's loss never trains on what the environment wrote;
* the episode's reward (the env's raw reward, or a reward-pipeline field) travels as the extra
  column ``env_reward``, which the :func:`env_reward` reward function hands to GRPO.

TRL's other hook, ``environment_factory``, exposes an env as *tools* the model must call in its
chat template's tool syntax; agentrl envs read raw text, so ``rollout_func`` is the faithful fit.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from agentrl.core.config import ConfigError, build_config
from agentrl.core.registry import make
from agentrl.rollout import EpisodeSpec, run_episodes
from agentrl.core.trajectory import Trajectory, TrajectoryBatch
from agentrl.policies.generation import GenerationConfig
from agentrl.policies.hf import HFPolicy
from agentrl.train.advantages import discounted_returns
from agentrl.train.build import reward_pipeline

INSTALL_HINT = "pip install 'agentrl[trl]'"
EPISODE_REWARDS = ("return", "outcome")


def require_trl():
    """Import TRL, or fail with the command that installs it."""
    try:
        import trl
    except ImportError as exc:
        raise ImportError(f"agentrl.integrations.trl needs TRL (and datasets): {INSTALL_HINT}") from exc
    return trl


require_trl()


@dataclass
class TRLEnvConfig:
    """How the rollout plays episodes and scores them for GRPO."""

    env_id: str = "agentrl/Sokoban-v0"
    """Registered env id every episode is played in."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """Env config overrides passed to ``agentrl.make``."""
    reward: str = "return"
    """The GRPO reward of an episode: ``return`` (discounted sum of the turns' ``fields["reward"]``,
    which is the env's raw reward unless a pipeline stage wrote it) or ``outcome`` (the episode's
    outcome: the env's ``info["outcome"]``, else success as 0/1)."""
    gamma: float = 1.0
    """Discount of ``return`` for turns without a ``fields["gamma"]`` (ADS writes one per turn)."""
    rewards: list[dict[str, Any]] | str | None = None
    """Reward pipeline applied to each rollout batch before scoring: stage configs, ``preset`` (the
    env's shipped pipeline) or None (raw rewards)."""
    max_new_tokens: int = 32
    """Per-turn generation cap."""
    max_context_tokens: int = 2048
    """Cap on the whole episode's tokens; an episode that would exceed it ends truncated."""
    system_prompt: bool = True
    """Send the env's instructions as the system message."""
    num_envs: int = 0
    """Episodes played at once (0: all prompts of a call at once)."""
    seed: int = 0
    """Base sampling seed; each call is seeded from (seed, training step, process, train/eval)."""

    def __post_init__(self) -> None:
        if self.reward not in EPISODE_REWARDS:
            raise ConfigError(f"reward must be one of {', '.join(EPISODE_REWARDS)}; got {self.reward!r}")


# ----------------------------------------------------------------------------- the dataset
def task_prompt(seed: int, options: Mapping[str, Any] | None = None) -> str:
    """The dataset prompt that stands for one task: ``env.reset(seed=seed, options=options)``."""
    return json.dumps({"seed": int(seed), "options": dict(options or {})}, sort_keys=True)


def parse_task_prompt(prompt: Any) -> EpisodeSpec:
    """The episode a :func:`task_prompt` names; its group is the prompt itself."""
    try:
        task = json.loads(prompt) if isinstance(prompt, str) else None
    except json.JSONDecodeError:
        task = None
    if not isinstance(task, dict) or "seed" not in task:
        raise ValueError(
            f"AgentRLRollout expects prompts made by agentrl.integrations.trl.task_prompt (or a dataset from "
            f"task_dataset), such as {task_prompt(0)!r}; got {str(prompt)[:120]!r}"
        )
    return EpisodeSpec(seed=int(task["seed"]), group_id=prompt, options=dict(task.get("options") or {}))


def task_dataset(seeds: Iterable[int], options: Mapping[str, Any] | None = None):
    """A ``datasets.Dataset`` with one task prompt per seed (the ``train_dataset`` of the trainer)."""
    try:
        from datasets import Dataset
    except ImportError as exc:
        raise ImportError(f"task_dataset needs the datasets library: {INSTALL_HINT}") from exc
    seeds = list(seeds)
    return Dataset.from_dict({"prompt": [task_prompt(s, options) for s in seeds], "seed": seeds})


# ----------------------------------------------------------------------------- the rollout
class AgentRLRollout:
    """A TRL ``rollout_func`` that plays each prompt's task as a multi-turn agentrl episode."""

    def __init__(self, config: TRLEnvConfig | Mapping[str, Any] | None = None, *, pipeline: Any = None,
                 **overrides: Any) -> None:
        self.config = build_config(TRLEnvConfig, config, overrides, where="AgentRLRollout")
        if pipeline is None:
            pipeline = reward_pipeline(self.config.rewards, self.config.env_id)
        self.pipeline = pipeline
        self.generation = GenerationConfig(
            max_new_tokens=self.config.max_new_tokens, max_context_tokens=self.config.max_context_tokens,
            context="full", system_prompt=self.config.system_prompt,
        )
        # One env now, so that a wrong id or env setting fails here rather than mid-training.
        self.envs: list = [make(self.config.env_id, **self.config.env_kwargs)]
        # The latest call's trajectories (after the reward pipeline), for inspection and logging.
        self.last_batch: TrajectoryBatch | None = None

    def __call__(self, prompts: Sequence[Any], trainer: Any) -> dict[str, list]:
        """TRL's hook: one completion per prompt, sampled from the trainer's current weights."""
        tokenizer = getattr(trainer.processing_class, "tokenizer", trainer.processing_class)
        _check_sampling(trainer)
        mode = int(trainer.model.training)
        seed = _mix(self.config.seed, trainer.state.global_step, trainer.accelerator.process_index, mode)
        with _generation_model(trainer) as model:
            return self.play(prompts, model, tokenizer, temperature=trainer.temperature, seed=seed,
                             device=trainer.accelerator.device)

    def play(self, prompts: Sequence[Any], model: Any, tokenizer: Any, *, temperature: float = 1.0, seed: int = 0,
             device: Any = None) -> dict[str, list]:
        """Play one episode per prompt with ``model`` and return TRL's rollout dict."""
        specs = [parse_task_prompt(p) for p in prompts]
        generation = GenerationConfig(**{**vars(self.generation), "temperature": float(temperature)})
        policy = HFPolicy(model, tokenizer, generation, seed=seed, device=device)
        batch = run_episodes(self._envs(len(specs)), policy, specs)
        if self.pipeline is not None:
            batch = self.pipeline(batch)
        self.last_batch = batch
        return rollout_output(batch, self.episode_reward)

    def episode_reward(self, trajectory: Trajectory) -> float:
        """The GRPO reward of one episode (see ``TRLEnvConfig.reward``)."""
        if self.config.reward == "outcome":
            return float(trajectory.outcome)
        if not trajectory.turns:
            return 0.0
        rewards = trajectory.field_array("reward")
        return float(discounted_returns(rewards, trajectory.field_array("gamma", default=self.config.gamma))[0])

    def _envs(self, wanted: int) -> list:
        size = min(wanted, self.config.num_envs) if self.config.num_envs > 0 else wanted
        while len(self.envs) < size:
            self.envs.append(make(self.config.env_id, **self.config.env_kwargs))
        return self.envs[:size]

    def close(self) -> None:
        for env in self.envs:
            env.close()
        self.envs = []


def rollout_output(batch: TrajectoryBatch, reward_of) -> dict[str, list]:
    """TRL's rollout dict for a batch: token fields, ``env_mask``, and the env columns."""
    samples = [episode_sample(t) for t in batch]
    return {
        "prompt_ids": [s[0] for s in samples],
        "completion_ids": [s[1] for s in samples],
        "logprobs": [s[2] for s in samples],
        "env_mask": [s[3] for s in samples],
        "env_reward": [reward_of(t) for t in batch],
        "env_success": [bool(t.success) for t in batch],
        "env_turns": [len(t.turns) for t in batch],
    }


def episode_sample(trajectory: Trajectory) -> tuple[list[int], list[int], list[float], list[int]]:
    """(prompt ids, completion ids, sampling logprobs, env mask) of one episode, from its exact records.

    The prompt is the first turn's prompt; the completion is every later token in context order.
    """
    if not trajectory.turns:
        raise ValueError(
            "an episode ended before its first action because the first prompt does not fit: raise "
            "max_context_tokens (it must exceed the prompt plus max_new_tokens)"
        )
    if len(trajectory.segments()) > 1:
        raise ValueError("TRL trains one sequence per completion: the episode must be one context (context='full')")
    ids = [token for turn in trajectory.turns for token in turn.token_ids]
    mask = [m for turn in trajectory.turns for m in turn.loss_mask]
    logprobs = [lp for turn in trajectory.turns for lp in turn.logprobs]
    prompt_length = mask.index(1)
    return ids[:prompt_length], ids[prompt_length:], logprobs[prompt_length:], mask[prompt_length:]


def env_reward(completions: list, env_reward: list[float] | None = None, env_success: list[bool] | None = None,
               log_metric: Any = None, **_: Any) -> list[float]:
    """GRPO reward function: the episode reward :class:`AgentRLRollout` computed through the env."""
    if env_reward is None:
        raise ValueError("env_reward needs AgentRLRollout as the trainer's rollout_func (it supplies the column)")
    if log_metric is not None and env_success:
        log_metric("env/success_rate", sum(env_success) / len(env_success))
    return [float(r) for r in env_reward]


def grpo_trainer(model: Any, tokenizer: Any, args: Any, env: AgentRLRollout | TRLEnvConfig | Mapping[str, Any],
                 *, seeds: Iterable[int] = range(1000), train_dataset: Any = None, reward_funcs: Sequence = (),
                 **trainer_kwargs: Any):
    """A ``trl.GRPOTrainer`` whose rollouts are agentrl episodes and whose reward is the env's."""
    from trl import GRPOTrainer

    if "rollout_func" not in inspect.signature(GRPOTrainer.__init__).parameters:
        raise ImportError(f"this TRL has no GRPOTrainer(rollout_func=...); upgrade it: {INSTALL_HINT}")
    rollout = env if isinstance(env, AgentRLRollout) else AgentRLRollout(env)
    return GRPOTrainer(
        model=model, reward_funcs=[env_reward, *reward_funcs], args=args,
        train_dataset=train_dataset if train_dataset is not None else task_dataset(seeds),
        processing_class=tokenizer, rollout_func=rollout, **trainer_kwargs,
    )


# ----------------------------------------------------------------------------- helpers
def _check_sampling(trainer: Any) -> None:
    """HFPolicy samples with temperature only; refuse settings it would silently ignore."""
    ignored = {"top_p": (trainer.top_p, 1.0), "top_k": (trainer.top_k or 0, 0), "min_p": (trainer.min_p, None),
               "repetition_penalty": (trainer.repetition_penalty, 1.0)}
    changed = [f"{name}={value}" for name, (value, default) in ignored.items() if value != default]
    if changed:
        raise ValueError(f"AgentRLRollout samples with temperature only; unset {', '.join(changed)} in GRPOConfig")


@contextmanager
def _generation_model(trainer: Any):
    """The trainer's model unwrapped for generation (DDP/FSDP/DeepSpeed-safe, as TRL does it)."""
    from trl.models import unwrap_model_for_generation

    with unwrap_model_for_generation(
        trainer.model_wrapped, trainer.accelerator,
        gather_deepspeed3_params=trainer.args.ds3_gather_for_generation,
        gradient_checkpointing_kwargs=trainer.args.gradient_checkpointing_kwargs,
    ) as model:
        yield model


def _mix(*parts: int) -> int:
    seed = 0
    for part in parts:
        seed = (seed * 1_000_003 + int(part)) % (2**31)
    return seed
