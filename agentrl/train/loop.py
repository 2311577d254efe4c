"""``agentrl.train``: SFT warm start, then iterations of rollout -> reward pipeline -> advantages -> update.

The loop is plumbing only; the algorithm lives in ``advantages.py`` (per-turn credit, pure functions)
and ``learner.py`` (losses and optimisation). Every random choice is seeded from (run seed,
iteration), so a run that resumes from a checkpoint continues exactly as an uninterrupted one would.
"""

from __future__ import annotations

import copy
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

import torch

from agentrl.core.config import ConfigError, config_to_dict
from agentrl.core.env import TextEnv
from agentrl.core.policy import Policy
from agentrl.core.trajectory import TrajectoryBatch
from agentrl.rewards.base import TrainingContext
from agentrl.rollout import AsyncRollouts, EpisodeSpec, RolloutEngine, VersionedPolicy, grouped_specs, run_episodes
from agentrl.rollout.policy_process import PolicyProcess
from agentrl.train.advantages import Advantages, batch_advantages
from agentrl.train.agents import Agent
from agentrl.train.build import build_agent, build_pipeline, resolve_device
from agentrl.train.checkpoint import latest_checkpoint, load_checkpoint, read_best, save_best, save_checkpoint
from agentrl.train.config import TrainConfig, dump_config, flatten_config, load_config
from agentrl.train.console import Progress, RunReport
from agentrl.train.learner import Learner, NonFiniteLossError
from agentrl.train.metrics import MetricsLogger, pick_samples
from agentrl.train.parallel import local_device, make_parallel
from agentrl.train.plots import plot_learning_curves
from agentrl.train.restore import checkpoint_config
from agentrl.train.resume import ResumeRefusedError, check_resume
from agentrl.train.rollouts import build_rollout_backend, make_envs
from agentrl.train.sft import collect_demonstrations, supervised_finetune
from agentrl.train.trackers import build_trackers


class TrainingDivergedError(RuntimeError):
    """Training produced a non-finite loss; the message names the last good checkpoint."""


@dataclass
class TrainResult:
    output_dir: Path
    config: TrainConfig
    metrics: list[dict[str, Any]] = field(default_factory=list)
    initial_success: float | None = None
    """Held-out success of the untrained policy."""
    sft_success: float | None = None
    """... after SFT (None without SFT)."""
    final_success: float | None = None
    """... of the last weights."""
    best_success: float | None = None
    """The highest held-out success of any evaluated weights (after SFT included), kept in ``OUTPUT/best``."""
    best_iteration: int | None = None
    checkpoint: Path | None = None
    plot: Path | None = None


def train(config: TrainConfig | Mapping[str, Any] | str | None = None, **overrides: Any) -> TrainResult:
    """Train from a config (preset name, YAML path, mapping or TrainConfig) plus overrides."""
    return Trainer(load_config(config, overrides)).run()


def _seed(config: TrainConfig, iteration: int, purpose: int) -> int:
    return (config.run.seed * 1_000_003 + iteration * 7_919 + purpose) % (2**31)


class Trainer:
    def __init__(self, config: TrainConfig):
        started = time.perf_counter()
        self.config = config
        if config.run.threads:
            torch.set_num_threads(config.run.threads)
        torch.manual_seed(config.run.seed)
        self.device = local_device(resolve_device(config.run.device))
        self.parallel = make_parallel(self.device)
        self.report = RunReport(enabled=self.parallel.is_main)
        self.output = Path(config.run.output_dir)
        self.output.mkdir(parents=True, exist_ok=True)
        self.eval_envs = make_envs(config, min(config.rl.num_envs, max(1, config.eval.episodes)), evaluation=True)
        self.agent = build_agent(config, self.eval_envs[0], self.device)
        self.parallel.broadcast_parameters(self.agent.parameters())
        self.agent.sync()
        self.pipeline = build_pipeline(config)
        self.learner = Learner(self.agent, config.rl, seed=config.run.seed, parallel=self.parallel)
        self.rollout = build_rollout_backend(config)
        self.acting = VersionedPolicy(self.agent.policy)
        """The acting policy as rollouts see it: every turn stamped with the weights' version."""
        self.asynchronous: AsyncRollouts | None = None
        self.policy_process: PolicyProcess | None = None
        parameters = sum(p.numel() for p in self.agent.parameters())
        self.report.startup(config, parameters, self.device, time.perf_counter() - started)

    # ------------------------------------------------------------------------- the run
    def run(self) -> TrainResult:
        cfg = self.config
        start = self._resume()
        if self.parallel.is_main:  # only now: a refused resume leaves the run's config.yaml as it was
            (self.output / "config.yaml").write_text(dump_config(cfg))
        self.parallel.barrier()  # every rank has read the checkpoint before the logger trims metrics
        self.logger = (MetricsLogger(self.output, tensorboard=cfg.run.tensorboard, resume_iteration=start,
                                     trackers=build_trackers(cfg.run.loggers, self.output, cfg.run.name,
                                                             flatten_config(cfg)))
                       if self.parallel.is_main else NullLogger())
        result = TrainResult(self.output, cfg)
        bar: Progress | None = None
        try:
            if start is None:
                self._warm_start()
                start = 0
            self._start_async(start)
            bar = Progress("RL iteration", cfg.rl.iterations, initial=start, every_s=cfg.run.log_every_s,
                           enabled=cfg.run.progress and self.parallel.is_main)
            for iteration in range(start + 1, cfg.rl.iterations + 1):
                record = self._iteration(iteration)
                if iteration % cfg.eval.every == 0 or iteration == cfg.rl.iterations:
                    record.update(self._evaluate(iteration))
                    self._keep_best(iteration, record.get("eval/success_rate"))
                self.logger.log(record)
                bar.set_postfix(success=f"{record.get('rollout/success_rate', 0):.2f}",
                                ret=f"{record.get('rollout/mean_return', 0):.2f}")
                bar.update()
                if iteration % cfg.run.checkpoint_every == 0 or iteration == cfg.rl.iterations:
                    result.checkpoint = self._save(iteration)
        except NonFiniteLossError as exc:
            raise self._diverged(exc) from exc
        finally:
            if bar is not None:
                bar.close()
            self.logger.close()
            self._close()
        return self._finish(result)

    def _warm_start(self) -> None:
        """Iteration 0: evaluate the untrained policy, run SFT, evaluate again, checkpoint."""
        cfg = self.config
        record: dict[str, Any] = {"iteration": 0, **self._evaluate(0)}
        if cfg.sft.episodes > 0:
            record.update(self._sft())
            record.update({f"sft/{k.split('/', 1)[1]}": v for k, v in self._evaluate(0).items()})
        self._keep_best(0, record.get("sft/success_rate", record.get("eval/success_rate")))
        if cfg.rl.kl_coef > 0:
            self.agent.freeze_reference()
        self._setup_pipeline()
        self.logger.log(record)
        self._save(0)

    def _sft(self) -> dict[str, float]:
        cfg = self.config
        expert = self.eval_envs[0].unwrapped.expert_policy()
        if expert is None:
            raise ValueError(f"sft.episodes > 0 but {cfg.env.id} has no expert policy to learn from")
        demos = collect_demonstrations(self.eval_envs, expert, cfg.sft, full_context=cfg.policy.context == "full",
                                       run_seed=cfg.run.seed, parallel=self.parallel)
        units = self.agent.demonstration_units(demos)
        started = time.perf_counter()
        with Progress("SFT step", cfg.sft.steps, enabled=cfg.run.progress and self.parallel.is_main,
                      every_s=cfg.run.log_every_s) as bar:
            losses = supervised_finetune(self.agent, units, cfg.sft, seed=cfg.run.seed + self.parallel.rank,
                                         progress=bar, parallel=self.parallel)
        self.report.sft(len(demos), len(units), losses, time.perf_counter() - started)
        return {"sft/units": float(len(units)), "sft/first_loss": losses[0], "sft/final_loss": losses[-1],
                "time/sft_s": time.perf_counter() - started}

    def _iteration(self, iteration: int) -> dict[str, Any]:
        cfg = self.config
        started = time.perf_counter()
        batch = self._rollout(iteration)
        rollout_time = time.perf_counter() - started
        self.logger.log_samples(iteration, pick_samples(batch, cfg.run.samples))
        batch = self._shape_rewards(batch)
        trained = batch.informative_groups() if cfg.rl.informative_groups_only else batch
        advantages = self._advantages(trained)
        update_started = time.perf_counter()
        stats = self.learner.update(trained, advantages, seed=_seed(cfg, iteration, 2) + self.parallel.rank,
                                    max_staleness=cfg.rl.max_staleness)
        stats["learner/trained_episodes"] = float(len(trained))
        self.acting.publish(self._sync_weights, self.learner.version)
        update_time = time.perf_counter() - update_started
        generated = sum(sum(t.loss_mask) for t in batch.turns())
        summary = combine_summaries(self.parallel.gather(batch.summary()))
        return {
            "iteration": iteration,
            **{f"rollout/{k}": v for k, v in summary.items()},
            **batch_metrics(batch),
            **stats,
            "time/rollout_s": rollout_time,
            "time/update_s": update_time,
            "time/iteration_s": time.perf_counter() - started,
            # Asynchronous actors generate during the whole iteration, not only while the learner waits.
            "throughput/generated_tokens_per_s": generated / max(
                rollout_time if self.asynchronous is None else time.perf_counter() - started, 1e-9),
        }

    def _specs(self, iteration: int) -> list[EpisodeSpec]:
        """The iteration's tasks (this rank's share), ``rl.group_size`` episodes each."""
        cfg = self.config
        first = 100_000_000 + iteration * cfg.rl.tasks_per_iteration + cfg.run.seed * 10_000_000
        seeds = self.parallel.shard(list(range(first, first + cfg.rl.tasks_per_iteration)))
        return grouped_specs(seeds, cfg.rl.group_size)

    def _rollout(self, iteration: int) -> TrajectoryBatch:
        """The iteration's episodes: played now with the current weights, or (``rl.async_rollouts``)
        the next complete groups the actors finished."""
        if self.asynchronous is not None:
            return self.asynchronous.next_batch(self.learner.version)
        self.agent.policy.reseed(_seed(self.config, iteration, 1) + 104_729 * self.parallel.rank)
        return self.rollout.run_episodes(self.acting, self._specs(iteration))

    def _start_async(self, start: int) -> None:
        """With ``rl.async_rollouts``, start the actors on the tasks of the iterations after ``start``."""
        cfg = self.config
        if not cfg.rl.async_rollouts:
            return
        engine = getattr(self.rollout, "engine", None)
        if not isinstance(engine, RolloutEngine):
            raise ConfigError(f"rl.async_rollouts needs rollout.backend local or ray, not {cfg.rollout.backend}")
        actor = self.agent.policy
        if cfg.rollout.policy_process:
            actor = self.policy_process = PolicyProcess(self.agent.policy, threads=max(1, cfg.run.threads))
        actor.reseed(_seed(cfg, start + 1, 1) + 104_729 * self.parallel.rank)
        self.acting = VersionedPolicy(actor, version=self.learner.version)
        self.asynchronous = AsyncRollouts(engine, self.acting, self._specs, first_iteration=start + 1,
                                          max_staleness=cfg.rl.max_staleness).start()

    def _sync_weights(self) -> None:
        """The learner's weights into the acting policy (and the actors' process, when there is one)."""
        self.agent.sync()
        if self.policy_process is not None:
            self.policy_process.load_weights(self.agent.state_dict()["model"])

    def _shape_rewards(self, batch: TrajectoryBatch) -> TrajectoryBatch:
        """The reward pipeline over the batch. With several data-parallel ranks, every rank runs it on
        the whole iteration's batch (so adaptive stages see the same data and stay in step), keeps its
        own share, and takes rank 0's stage state."""
        if self.pipeline is None:
            return batch
        if self.parallel.world_size == 1:
            return self.pipeline(batch)
        shards = self.parallel.gather(list(batch))
        whole = self.pipeline(TrajectoryBatch(t for shard in shards for t in shard))
        start = sum(len(shard) for shard in shards[: self.parallel.rank])
        mine = TrajectoryBatch(whole.trajectories[start:start + len(batch)])
        mine.metrics = {**batch.metrics, **whole.metrics}
        self.pipeline.load_state_dict(self.parallel.broadcast(self.pipeline.state_dict()))
        return mine

    def _setup_pipeline(self) -> None:
        """Give the reward stages what only the trainer has (see ``TrainingContext``); after the warm
        start, or after loading a checkpoint's pipeline state."""
        if self.pipeline is None:
            return
        model = self.agent.language_model
        self.pipeline.setup(TrainingContext(
            policy_model=(lambda: copy.deepcopy(model)) if model is not None else None,
            expert_demonstrations=self._expert_episodes if self._expert() is not None else None,
            base_policy_episodes=self._base_policy_episodes,
        ))

    def _expert(self):
        base = self.eval_envs[0].unwrapped
        try:
            return base.expert_policy() if isinstance(base, TextEnv) else None
        except ConfigError:  # an expert that needs another observation mode than this run's
            return None

    def _expert_episodes(self) -> TrajectoryBatch:
        """The env expert on the held-out evaluation tasks (ADS's demonstrations)."""
        cfg = self.config
        seeds = range(cfg.eval.seed, cfg.eval.seed + cfg.eval.episodes)
        return run_episodes(self.eval_envs, self._expert(), grouped_specs(seeds, 1))

    def _base_policy_episodes(self) -> TrajectoryBatch:
        """One iteration's worth of episodes of the policy as RL starts, on tasks of their own."""
        cfg = self.config
        first = 50_000_000 + cfg.run.seed * 10_000_000
        specs = grouped_specs(list(range(first, first + cfg.rl.tasks_per_iteration)), cfg.rl.group_size)
        policy = self.agent.policy.evaluation_view(greedy=False, seed=_seed(cfg, 0, 4))
        return run_episodes(self.eval_envs, policy, specs)

    def _advantages(self, batch: TrajectoryBatch) -> Advantages:
        """Per-turn advantages of the batch; GAE reads the critic, bootstrapping truncated episodes
        from the value of their final observation."""
        rl = self.config.rl
        critic = rl.advantage == "gae"
        return batch_advantages(
            batch, rl.advantage, gamma=rl.gamma, baseline=rl.baseline, lam=rl.gae_lambda,
            values=self.agent.turn_values(batch) if critic else None,
            next_values=self.agent.bootstrap_values(batch) if critic else None,
            step_weight=rl.step_weight, normalize=rl.normalize_advantages,
        )

    def _evaluate(self, iteration: int) -> dict[str, float]:
        cfg = self.config
        if cfg.eval.episodes <= 0 or not self.parallel.is_main:
            return {}
        started = time.perf_counter()
        policy = evaluation_policy(self.agent, greedy=cfg.eval.greedy, seed=_seed(cfg, iteration, 3))
        seeds = range(cfg.eval.seed, cfg.eval.seed + cfg.eval.episodes)
        with self.acting.paused():  # the evaluation policy shares the acting model with the actors
            batch = run_episodes(self.eval_envs, policy, grouped_specs(seeds, 1))
        if self.pipeline is not None and iteration > 0:
            self.pipeline.observe_evaluation(batch)  # e.g. ADS measures mastery on held-out episodes
        seconds = time.perf_counter() - started
        self.report.evaluation(f"at iteration {iteration}", batch.summary(), seconds)
        return {**{f"eval/{k}": v for k, v in batch.summary().items() if k != "episodes"},
                **{f"eval/rewards/{k}": v for k, v in batch.metrics.items() if not k.startswith(("time/", "rollout/"))},
                "time/eval_s": seconds}

    # ----------------------------------------------------------- checkpoints and endings
    def _state(self) -> dict[str, Any]:
        state = {"agent": self.agent.state_dict(), "optimizer": self.learner.optimizer.state_dict()}
        if self.agent.reference is not None:
            state["reference"] = self.agent.reference.state_dict()
        if self.pipeline is not None:
            state["pipeline"] = self.pipeline.state_dict()
        return state

    def _save(self, iteration: int) -> Path | None:
        path = None
        if self.parallel.is_main:
            path = save_checkpoint(self.output, iteration, self._state(), {"config": config_to_dict(self.config)},
                                   keep_last=self.config.run.keep_last)
        self.parallel.barrier()
        return path

    def _keep_best(self, iteration: int, success: float | None) -> None:
        """Keep the weights with the highest held-out success in ``OUTPUT/best`` (ties: the earlier)."""
        if success is None or not self.parallel.is_main:
            return
        best = read_best(self.output)
        if best is not None and best["iteration"] < iteration and best["success_rate"] >= success:
            return
        save_best(self.output, iteration, success, {"agent": self.agent.state_dict()},
                  {"config": config_to_dict(self.config)})

    def _resume(self) -> int | None:
        path = latest_checkpoint(self.output) if self.config.run.resume else None
        if path is None:
            self.report.fresh(self.output)
            return None
        changes = check_resume(checkpoint_config(path), self.config, path)
        state, meta = load_checkpoint(path)
        try:
            self.agent.load_state_dict(state["agent"])
        except RuntimeError as exc:  # e.g. a grid network whose input shape follows a changed env setting
            raise ResumeRefusedError(f"the weights of {path} do not fit the model this config builds: "
                                     f"{str(exc).splitlines()[0]} Start a new run (run.output_dir=runs/NEW).") from exc
        self.learner.optimizer.load_state_dict(state["optimizer"])
        if "reference" in state:
            self.agent.freeze_reference()
            self.agent.reference.load_state_dict(state["reference"])
        if "pipeline" in state and self.pipeline is not None:
            self.pipeline.load_state_dict(state["pipeline"])
        self._setup_pipeline()
        self.learner.version = self.acting.version = int(meta["iteration"])  # one version per iteration
        self.report.resumed(path, changes)
        return int(meta["iteration"])

    def _diverged(self, exc: Exception) -> TrainingDivergedError:
        last = latest_checkpoint(self.output)
        records = self.logger.records()
        diagnostic = {"error": str(exc), "last_good_checkpoint": str(last) if last else None,
                      "last_metrics": records[-1] if records else None}
        (self.output / "diagnostic.json").write_text(json.dumps(diagnostic, indent=2))
        return TrainingDivergedError(
            f"training stopped: {exc}. The last good checkpoint is {last}; see {self.output / 'diagnostic.json'}. "
            "Lower rl.lr or rl.clip, or raise rl.max_grad_norm's strictness, then resume."
        )

    def _close(self) -> None:
        if self.asynchronous is not None:
            self.asynchronous.close()
        if self.policy_process is not None:
            self.policy_process.close()
        for env in self.eval_envs:
            env.close()
        self.rollout.close()
        self.parallel.close()

    def _finish(self, result: TrainResult) -> TrainResult:
        if not self.parallel.is_main:
            return result
        result.metrics = self.logger.records()
        evals = [r for r in result.metrics if "eval/success_rate" in r]
        if evals:
            result.initial_success = evals[0]["eval/success_rate"]
            result.sft_success = evals[0].get("sft/success_rate")
            result.final_success = evals[-1]["eval/success_rate"]
            if len(evals) == 1 and result.sft_success is not None:  # no RL evaluation: SFT's is the last
                result.final_success = result.sft_success
        best = read_best(self.output)
        if best is not None:
            result.best_success, result.best_iteration = best["success_rate"], best["iteration"]
        result.plot = plot_learning_curves(result.metrics, self.output / "learning_curves.png",
                                           title=f"{self.config.env.id} ({self.config.policy.kind})")
        result.checkpoint = latest_checkpoint(self.output)
        self.report.finished(result)
        return result


class NullLogger:
    """The metrics logger of non-main ranks: rank 0 alone writes files."""

    def log(self, record: dict[str, Any]) -> None:
        pass

    def log_samples(self, iteration: int, trajectories) -> None:
        pass

    def records(self) -> list[dict[str, Any]]:
        return []

    def close(self) -> None:
        pass


def batch_metrics(batch: TrajectoryBatch) -> dict[str, float]:
    """The batch's metrics as logged: reward-stage metrics under ``rewards/``, the rollout engine's
    counters under ``rollout_engine/`` (``rollout/`` holds the batch summary), timings as they are."""
    out = {}
    for key, value in batch.metrics.items():
        if key.startswith("time/"):
            out[key] = value
        elif key.startswith("rollout/"):
            out["rollout_engine/" + key.split("/", 1)[1]] = value
        else:
            out[f"rewards/{key}"] = value
    return out


def combine_summaries(summaries: list[dict[str, float]]) -> dict[str, float]:
    """Merge per-rank batch summaries: episode-weighted means, summed episode counts."""
    total = sum(s.get("episodes", 0) for s in summaries)
    if len(summaries) == 1 or total == 0:
        return summaries[0]
    keys = {k for s in summaries for k in s if k != "episodes"}
    merged = {k: sum(s.get(k, 0.0) * s.get("episodes", 0) for s in summaries) / total for k in keys}
    return {"episodes": total, **merged}


def evaluation_policy(agent: Agent, *, greedy: bool, seed: int) -> Policy:
    """The acting policy with evaluation settings (greedy or sampling) and a fresh seed."""
    return agent.policy.evaluation_view(greedy=greedy, seed=seed)
