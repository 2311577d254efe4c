"""Cost-quality evaluation of routers on ``agentrl/Router-v0``.

Every router -- a trained policy, an API model acting as the router, and the baselines of
:mod:`agentrl.envs.router.baselines` (each single model, random, cheapest, most expensive, oracle,
kNN over MiniLM embeddings) -- plays the same questions through the env, so EM, F1, cost and the
Router-R1 reward are measured the same way for all. Backends are shared and cached, so each
``(model, query)`` pair is asked once however many routers route it there.

Outputs: a table (printed), ``router_eval.json`` (per-router metrics, the Pareto front and the
oracle/kNN checks) and ``pareto.png`` (cost against EM).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from agentrl.core.config import ConfigError, build_config
from agentrl.core.policy import Policy
from agentrl.core.registry import make
from agentrl.core.rollout import EpisodeSpec, run_episodes
from agentrl.core.trajectory import Trajectory
from agentrl.envs.router import baselines
from agentrl.envs.router.backends import CachedBackend
from agentrl.envs.router.data import QATask
from agentrl.envs.router.reward import CostNormalizer

BASELINES = ("single", "random", "cheapest", "most-expensive", "oracle", "knn")
ENV_ID = "agentrl/Router-v0"


@dataclass
class RouterEvalConfig:
    """What ``agentrl router-eval`` evaluates and where it writes."""

    episodes: int = 200
    """Questions evaluated (reset seeds ``seed .. seed + episodes - 1``)."""
    seed: int = 0
    """First reset seed."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """``agentrl/Router-v0`` config overrides (pool, backend, task files, alpha, ...)."""
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))
    """Baselines to run: single, random, cheapest, most-expensive, oracle, knn."""
    num_envs: int = 8
    """Episodes played at once."""
    knn_k: int = 10
    """Neighbours the kNN router averages over."""
    knn_cost_weight: float = 0.1
    """kNN utility = quality - weight * cost / (largest mean model cost)."""
    knn_train_size: int = 200
    """Generated training questions for kNN (seeds after the evaluated ones); with task files the
    kNN router is scored leave-one-out on the evaluated questions instead."""
    random_seed: int = 0
    """Seed of the random router."""
    out_dir: str = "router_eval"
    """Directory for router_eval.json and pareto.png."""

    def __post_init__(self) -> None:
        unknown = [b for b in self.baselines if b not in BASELINES]
        if unknown:
            raise ValueError(f"unknown baseline(s) {unknown}; baselines: {', '.join(BASELINES)}")
        if self.episodes < 1:
            raise ValueError(f"episodes must be >= 1, got {self.episodes}")


@dataclass
class RouterScore:
    """One router's averages over the evaluated questions."""

    router: str
    em: float
    f1: float
    cost: float
    """Mean Router-R1 cost per question (completion tokens x $ per 1M, i.e. micro-dollars)."""
    usd_per_1k: float
    """Mean dollars per 1000 questions."""
    calls_per_question: float
    format_ok: float
    """Fraction of episodes whose transcript passed the format rules."""
    reward: float
    """Mean Router-R1 reward."""


def episode_metrics(trajectory: Trajectory) -> dict[str, float]:
    """EM, F1, cost, calls, format verdict and reward of one finished episode."""
    final = trajectory.turns[-1].info if trajectory.turns else {}
    calls = [c for turn in trajectory.turns for c in turn.info.get("calls", [])]
    return {
        "em": float(final.get("em", 0.0)),
        "f1": float(final.get("f1", 0.0)),
        "cost": float(sum(c["cost"] for c in calls)),
        "calls": float(sum(1 for c in calls if c.get("error") != "unknown model")),
        "format_ok": float(bool(final.get("format_ok", False))),
        "reward": trajectory.total_reward,
    }


def score(name: str, trajectories: Sequence[Trajectory]) -> RouterScore:
    rows = [episode_metrics(t) for t in trajectories]
    mean = {key: float(np.mean([r[key] for r in rows])) for key in rows[0]}
    return RouterScore(name, mean["em"], mean["f1"], mean["cost"], mean["cost"] / 1e6 * 1000,
                       mean["calls"], mean["format_ok"], mean["reward"])


class RouterEvaluation:
    """Runs routers over one fixed question set with shared, cached backends."""

    def __init__(self, config: RouterEvalConfig) -> None:
        self.config = config
        count = max(1, min(config.num_envs, config.episodes))
        self.envs = [make(ENV_ID, **config.env_kwargs) for _ in range(count)]
        first = self.envs[0].unwrapped
        self.pool = first.pool
        self.shared = {kind: CachedBackend(backend) for kind, backend in first.backends.items()}
        for env in self.envs:
            for kind, backend in env.unwrapped.backends.items():
                if env.unwrapped is not first:
                    backend.close()
                env.unwrapped.set_backend(kind, self.shared[kind])
        self.seeds = list(range(config.seed, config.seed + config.episodes))
        self.tasks = [self._task_at(seed) for seed in self.seeds]

    def _task_at(self, seed: int) -> QATask:
        env = self.envs[0].unwrapped
        env.reset(seed=seed)
        assert env.task is not None
        return env.task

    def call(self, model, query: str):
        return self.shared[model.backend or self.envs[0].unwrapped.config.backend].call(model, query)

    def run(self, name: str, policy: Policy) -> tuple[RouterScore, list[Trajectory]]:
        env_config = self.envs[0].unwrapped.config
        # each router gets its own cost window, so one router's costs never scale another's reward
        normalizer = CostNormalizer(env_config.cost_window, env_config.cost_quantiles)
        for env in self.envs:
            env.unwrapped.cost_normalizer = normalizer
        specs = [EpisodeSpec(seed=seed, group_id=f"seed-{seed}") for seed in self.seeds]
        batch = run_episodes(self.envs, policy, specs)
        return score(name, batch.trajectories), batch.trajectories

    def close(self) -> None:
        for backend in self.shared.values():
            backend.close()

    # ---------------------------------------------------------------- baselines
    def baseline_policies(self) -> dict[str, Policy]:
        chosen, route = set(self.config.baselines), baselines.RouteThenAnswer
        policies: dict[str, Policy] = {}
        if "single" in chosen:
            policies.update({f"single:{m}": route(baselines.fixed(m)) for m in self.pool.names})
        if "random" in chosen:
            policies["random"] = route(baselines.uniform_random(self.pool.names, self.config.random_seed))
        if "cheapest" in chosen:
            policies["cheapest"] = route(baselines.fixed(self.pool.cheapest().name))
        if "most-expensive" in chosen:
            policies["most-expensive"] = route(baselines.fixed(self.pool.most_expensive().name))
        metric = self.envs[0].unwrapped.config.reward_metric
        if "oracle" in chosen:
            table = baselines.probe_pool(self.tasks, self.pool, self.call, metric)
            policies["oracle"] = route(baselines.oracle(table, self.pool))
        if "knn" in chosen:
            policies["knn"] = route(self._knn(metric))
        return policies

    def _knn(self, metric: str) -> baselines.KNNRouter:
        env = self.envs[0].unwrapped
        if env.tasks is None:  # generated tasks: train on fresh seeds after the evaluated ones
            start = self.seeds[-1] + 1
            train_tasks = [self._task_at(s) for s in range(start, start + self.config.knn_train_size)]
            exclude_self = False
        else:
            train_tasks, exclude_self = self.tasks, True
        table = baselines.probe_pool(train_tasks, self.pool, self.call, metric)
        router = baselines.KNNRouter(table, baselines.minilm_embedder(), k=self.config.knn_k,
                                     cost_weight=self.config.knn_cost_weight, exclude_self=exclude_self)
        router.precompute([task.question for task in self.tasks])
        return router


def pareto_front(scores: Sequence[RouterScore]) -> list[str]:
    """Routers that no other router beats on both EM (higher) and cost (lower)."""
    def dominated(a: RouterScore) -> bool:
        return any(b.em >= a.em and b.cost <= a.cost and (b.em > a.em or b.cost < a.cost) for b in scores)

    return [s.router for s in scores if not dominated(s)]


def best_single_em_within(scores: Sequence[RouterScore], cost: float) -> float:
    """The best EM any single model reaches at a cost no higher than ``cost`` (0 if none)."""
    return max((s.em for s in scores if s.router.startswith("single:") and s.cost <= cost), default=0.0)


def front_checks(scores: Sequence[RouterScore]) -> dict[str, Any]:
    """Is the oracle above every single model, and is kNN between the single-model front and the oracle?"""
    by_name = {s.router: s for s in scores}
    singles = [s for s in scores if s.router.startswith("single:")]
    checks: dict[str, Any] = {}
    oracle, knn = by_name.get("oracle"), by_name.get("knn")
    if oracle and singles:
        checks["oracle_above_every_single_model"] = all(oracle.em > s.em for s in singles)
        checks["oracle_on_pareto_front"] = "oracle" in pareto_front(scores)
    if knn and oracle and singles:
        front = best_single_em_within(scores, knn.cost)
        checks["knn_between_single_front_and_oracle"] = front < knn.em < oracle.em
        checks["best_single_em_at_knn_cost"] = front
    return checks


def format_table(scores: Sequence[RouterScore]) -> str:
    lines = [f"{'router':<24}{'EM':>7}{'F1':>7}{'$/1k q':>10}{'calls/q':>9}{'format':>8}{'reward':>8}"]
    for s in scores:
        lines.append(f"{s.router[:23]:<24}{s.em:>7.3f}{s.f1:>7.3f}{s.usd_per_1k:>10.4f}"
                     f"{s.calls_per_question:>9.2f}{s.format_ok:>8.2f}{s.reward:>8.3f}")
    return "\n".join(lines)


def plot_pareto(scores: Sequence[RouterScore], path: str | Path) -> None:
    """Cost (log scale) against EM, single models joined by their Pareto front."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    floor = min((s.usd_per_1k for s in scores if s.usd_per_1k > 0), default=1e-6) / 2
    figure, axes = plt.subplots(figsize=(7, 4.5))
    singles = sorted((s for s in scores if s.router.startswith("single:")), key=lambda s: s.cost)
    front, best = [], -1.0
    for s in singles:
        if s.em > best:
            front.append(s)
            best = s.em
    if front:
        axes.step([max(s.usd_per_1k, floor) for s in front], [s.em for s in front], where="post",
                  color="grey", linestyle="--", label="single-model front")
    labels: dict[tuple[float, float], list[str]] = {}  # routers on the same point share one label
    for s in scores:
        point = (max(s.usd_per_1k, floor), s.em)
        marker = "o" if s.router.startswith("single:") else ("*" if s.router in ("oracle", "knn") else "s")
        axes.scatter(*point, marker=marker, s=70)
        labels.setdefault(point, []).append(s.router.removeprefix("single:"))
    for point, names in labels.items():
        axes.annotate(" = ".join(names), point, textcoords="offset points", xytext=(5, 4), fontsize=8)
    axes.set_xscale("log")
    axes.margins(x=0.25, y=0.08)  # room for the point labels
    axes.set_xlabel("cost ($ per 1000 questions, log scale)")
    axes.set_ylabel("exact match")
    axes.set_title("Router cost-quality")
    axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def router_eval(config: RouterEvalConfig | Mapping[str, Any] | None = None,
                policies: Mapping[str, Policy | str] | None = None, **overrides: Any) -> dict[str, Any]:
    """Evaluate ``policies`` (name -> policy or ``make_policy`` spec) and the configured baselines."""
    config = build_config(RouterEvalConfig, config, overrides, where="router_eval")
    evaluation = RouterEvaluation(config)
    try:
        routers = dict(_resolve_policies(policies or {}, evaluation))
        routers.update(evaluation.baseline_policies())
        if not routers:
            raise ConfigError("nothing to evaluate: give a policy or at least one baseline")
        scores = [evaluation.run(name, policy)[0] for name, policy in routers.items()]
    finally:
        evaluation.close()
    return _write_outputs(config, evaluation, scores)


def _resolve_policies(policies: Mapping[str, Policy | str], evaluation: RouterEvaluation):
    from agentrl.eval.policy_specs import make_policy

    for name, policy in policies.items():
        yield name, make_policy(policy, evaluation.envs[0]) if isinstance(policy, str) else policy


def _write_outputs(config: RouterEvalConfig, evaluation: RouterEvaluation,
                   scores: list[RouterScore]) -> dict[str, Any]:
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    result = {
        "env": ENV_ID,
        "env_kwargs": config.env_kwargs,
        "episodes": config.episodes,
        "seeds": [evaluation.seeds[0], evaluation.seeds[-1]],
        "pool": [{k: v for k, v in asdict(m).items() if k != "api_key"} for m in evaluation.pool],
        "routers": [asdict(s) for s in scores],
        "pareto_front": pareto_front(scores),
        "checks": front_checks(scores),
        "table": format_table(scores),
    }
    plot_pareto(scores, out / "pareto.png")
    (out / "router_eval.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    result["files"] = {"json": str(out / "router_eval.json"), "plot": str(out / "pareto.png")}
    return result
