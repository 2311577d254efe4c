"""Cost-quality evaluation of routers on ``agentrl/Router-v0``, per dataset, as Router-R1 reports it.

Every router -- a released Router-R1 checkpoint or your own (``hf:PATH``, ``checkpoint:DIR``,
``api:MODEL@URL``) and the baselines of :mod:`agentrl.envs.router.baselines` (each single model,
random, cheapest, most expensive, oracle, kNN over MiniLM embeddings, and the multi-round cascade)
-- plays the same questions through the env, so EM, F1, cost, calls and the Router-R1 reward are
measured the same way for all. Backends are shared and cached, so each ``(model, query)`` pair is
asked once however many routers route it there.

Questions come from Router-R1's seven QA test sets (local FlashRAG folders or Router-R1 parquet
files, drawn as ``qa_test_gen.py`` draws them: :func:`~agentrl.envs.router.data.load_benchmark`),
from the env's ``task_files`` (each once), or from the offline generated tasks.

In the ``router-r1`` protocol, ``hf:`` and ``api:`` routers run Router-R1's own generation loop
(:mod:`agentrl.envs.router.routers`); in ``chat`` they are ordinary chat policies. ``checkpoint:DIR``
(a run of ``agentrl train``) acts as its run's own policy, with the context it was trained on.

Outputs: two tables (printed) -- EM per dataset in the layout of the paper's Table 1, with the
paper's rows for reference, and one row per router and dataset (EM, F1, $ per 1000 questions,
calls, format, reward) --, ``router_eval.json`` and ``pareto.png`` (cost against EM).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from agentrl.core.config import ConfigError, build_config
from agentrl.core.policy import ActionOutput, Policy, PolicyInput
from agentrl.core.registry import make
from agentrl.core.trajectory import Trajectory
from agentrl.envs.router import baselines
from agentrl.envs.router.backends import CachedBackend
from agentrl.envs.router.data import QA_BENCHMARKS, QATask, find_benchmark, load_benchmark
from agentrl.envs.router.pool import ModelPool
from agentrl.envs.router.reward import CostNormalizer, router_r1_reward
from agentrl.envs.router.routers import APIRouter, HFRouter, RouterGeneration, close_stopped_tag
from agentrl.envs.router.simulated import simulated_pool
from agentrl.eval.policy_specs import make_policy
from agentrl.models import load_causal_lm, load_tokenizer
from agentrl.policies.api import APIPolicy, parse_api_spec
from agentrl.policies.generation import GenerationConfig
from agentrl.policies.hf import HFPolicy
from agentrl.rollout import EpisodeSpec, run_episodes

BASELINES = ("single", "random", "cheapest", "most-expensive", "oracle", "knn", "cascade")
ENV_ID = "agentrl/Router-v0"
ALL = "all"
#: Column headers of the paper's Table 1.
SHORT_NAMES = {"nq": "NQ", "triviaqa": "TriviaQA", "popqa": "PopQA", "hotpotqa": "HpQA",
               "2wikimultihopqa": "2wiki", "musique": "Musique", "bamboogle": "Bamb"}

#: Exact match from the Router-R1 paper's Table 1 (arXiv:2506.09033; the figure
#: ``docs/static/figs/result.jpg`` of github.com/ulab-uiuc/Router-R1), in QA_BENCHMARKS order.
#: NQ and HotpotQA are in-domain (the training mix), the other five out-of-domain.
PAPER_TABLE = {
    "Router-R1-Qwen (Qwen2.5-3B)": (0.388, 0.706, 0.384, 0.352, 0.434, 0.138, 0.512),
    "Router-R1-Llama (Llama-3.2-3B)": (0.416, 0.680, 0.432, 0.322, 0.368, 0.128, 0.520),
    "Largest LLM (Qwen block)": (0.296, 0.578, 0.354, 0.278, 0.274, 0.104, 0.480),
    "Prompt LLM (Qwen block)": (0.300, 0.580, 0.340, 0.268, 0.262, 0.108, 0.448),
    "KNN Router (Qwen block)": (0.262, 0.528, 0.222, 0.224, 0.196, 0.066, 0.360),
}


@dataclass
class RouterEvalConfig:
    """What ``agentrl router-eval`` evaluates and where it writes."""

    datasets: list[str] = field(default_factory=list)
    """Router-R1 test sets to evaluate (nq, triviaqa, popqa, hotpotqa, 2wikimultihopqa, musique,
    bamboogle), found under ``data_dir`` or given in ``dataset_paths``; empty evaluates the env's
    own tasks."""
    data_dir: str | None = None
    """Folder holding the test sets (FlashRAG ``NAME/`` folders, ``NAME.jsonl`` or Router-R1's
    ``test_NAME_*.parquet``)."""
    dataset_paths: dict[str, str] = field(default_factory=dict)
    """NAME -> a FlashRAG folder, FlashRAG JSONL file or Router-R1 parquet file (overrides ``data_dir``)."""
    sample_size: int = 500
    """Questions drawn per FlashRAG test set (Router-R1: 500)."""
    sample_seed: int = 42
    """Seed of that draw (Router-R1: 42)."""
    limit: int | None = None
    """Evaluate only the first ``limit`` drawn questions of each test set (quick runs)."""
    episodes: int = 200
    """Without datasets: questions evaluated (the env's task files: the first ``episodes``, each
    once; generated tasks: seeds ``seed .. seed + episodes - 1``)."""
    seed: int = 0
    """First generated-task seed."""
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    """``agentrl/Router-v0`` config overrides (protocol, pool, backend, alpha, ...)."""
    candidates_url: str | None = None
    """One OpenAI-compatible endpoint serving every pool model (sets ``backend=openai`` and each
    model's ``base_url``; models are requested by ``api_model``, Router-R1's ids by default)."""
    candidates_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the key of ``candidates_url``."""
    generation: RouterGeneration = field(default_factory=RouterGeneration)
    """How ``hf:`` and ``api:`` routers generate (Router-R1's test.sh by default)."""
    baselines: list[str] = field(default_factory=lambda: list(BASELINES))
    """Baselines to run: single, random, cheapest, most-expensive, oracle, knn, cascade."""
    num_envs: int = 8
    """Episodes played at once."""
    knn_k: int = 10
    """Neighbours the kNN router averages over."""
    knn_cost_weight: float = 0.1
    """kNN utility = quality - weight * cost / (largest mean model cost)."""
    knn_train_size: int = 200
    """Generated training questions for kNN (seeds after the evaluated ones); on any other
    questions the kNN router is scored leave-one-out on the evaluated questions instead."""
    cascade_calls: int = 3
    """Most calls the cascade baseline makes before answering."""
    random_seed: int = 0
    """Seed of the random router."""
    out_dir: str = "router_eval"
    """Directory for router_eval.json and pareto.png."""

    def __post_init__(self) -> None:
        unknown = [b for b in self.baselines if b not in BASELINES]
        if unknown:
            raise ValueError(f"unknown baseline(s) {unknown}; baselines: {', '.join(BASELINES)}")
        unknown = [d for d in [*self.datasets, *self.dataset_paths] if d not in QA_BENCHMARKS]
        if unknown:
            raise ValueError(f"unknown dataset(s) {unknown}; datasets: {', '.join(QA_BENCHMARKS)}")
        if self.datasets and not self.data_dir and not set(self.datasets) <= set(self.dataset_paths):
            raise ValueError("datasets need data_dir (or a path for each in dataset_paths)")
        if self.episodes < 1 or self.sample_size < 1 or (self.limit is not None and self.limit < 1):
            raise ValueError("episodes, sample_size and limit must be >= 1")


@dataclass
class RouterScore:
    """One router's averages over one dataset's questions (``dataset == "all"``: the mean over
    datasets, as the paper's Avg. column)."""

    router: str
    em: float
    f1: float
    cost: float
    """Mean Router-R1 cost per question (completion tokens x $ per 1M, i.e. micro-dollars)."""
    usd_per_1k: float
    """Mean dollars per 1000 questions."""
    calls_per_question: float
    """Mean calls the env sent to a pool model."""
    format_ok: float
    """Fraction of episodes whose response passed the format rules."""
    reward: float
    """Mean Router-R1 reward, recomputed per dataset in question order (upstream normalises costs
    within one dataset's run, in batch order)."""
    dataset: str = ALL
    questions: int = 0
    route_count: float = 0.0
    """Mean of Router-R1's own ``route_count`` metric."""


def episode_metrics(trajectory: Trajectory) -> dict[str, Any]:
    """EM, F1, cost, calls, format verdict and dataset of one finished episode."""
    final = trajectory.turns[-1].info if trajectory.turns else {}
    return {
        "em": float(final.get("em", 0.0)),
        "f1": float(final.get("f1", 0.0)),
        "cost": float(final.get("cost", 0.0)),
        "calls": float(final.get("num_calls", 0)),
        "route_count": float(final.get("route_count", 0)),
        "format_ok": float(bool(final.get("format_ok", False))),
        "outcome": float(final.get("outcome", 0.0)),
        "dataset": str(final.get("data_source") or "generated"),
    }


def upstream_rewards(rows: Sequence[dict[str, Any]], env_config: Any) -> list[float]:
    """Router-R1's reward of each episode with the cost window of one evaluation run, filled in
    question order (``RewardManager.__call__`` over the batch)."""
    normalizer = CostNormalizer(env_config.cost_window, env_config.cost_quantiles)
    return [router_r1_reward(0.0 if r["format_ok"] else -1.0, r["outcome"], normalizer.normalize(r["cost"]),
                             env_config.alpha).total for r in rows]


def score(name: str, rows: Sequence[dict[str, Any]], dataset: str = ALL) -> RouterScore:
    mean = {key: float(np.mean([r[key] for r in rows])) for key in
            ("em", "f1", "cost", "calls", "format_ok", "reward", "route_count")}
    return RouterScore(name, mean["em"], mean["f1"], mean["cost"], mean["cost"] / 1e6 * 1000, mean["calls"],
                       mean["format_ok"], mean["reward"], dataset, len(rows), mean["route_count"])


def scores_by_dataset(name: str, trajectories: Sequence[Trajectory], env_config: Any) -> list[RouterScore]:
    """One score per dataset (in QA_BENCHMARKS order, then others), then their mean as ``all``."""
    rows = [episode_metrics(t) for t in trajectories]
    groups: dict[str, list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(row["dataset"], []).append(row)
    for group in groups.values():
        for row, reward in zip(group, upstream_rewards(group, env_config)):
            row["reward"] = reward
    def rank(dataset: str) -> tuple[int, str]:
        known = QA_BENCHMARKS.index(dataset) if dataset in QA_BENCHMARKS else len(QA_BENCHMARKS)
        return known, dataset

    order = sorted(groups, key=rank)
    per_dataset = [score(name, groups[d], d) for d in order]
    if len(per_dataset) == 1:
        return [per_dataset[0], RouterScore(**{**asdict(per_dataset[0]), "dataset": ALL})]
    fields = ("em", "f1", "cost", "usd_per_1k", "calls_per_question", "format_ok", "reward", "route_count")
    average = {f: float(np.mean([getattr(s, f) for s in per_dataset])) for f in fields}
    return per_dataset + [RouterScore(name, dataset=ALL, questions=len(rows), **average)]


class RouterEvaluation:
    """Runs routers over one fixed question set with shared, cached backends."""

    def __init__(self, config: RouterEvalConfig) -> None:
        self.config = config
        env_kwargs = with_candidates(config.env_kwargs, config.candidates_url, config.candidates_key_env)
        self.envs = [make(ENV_ID, **env_kwargs) for _ in range(max(1, config.num_envs))]
        first = self.envs[0].unwrapped
        self.pool = first.pool
        self.shared = {kind: CachedBackend(backend) for kind, backend in first.backends.items()}
        for env in self.envs:
            for kind, backend in env.unwrapped.backends.items():
                if env.unwrapped is not first:
                    backend.close()
                env.unwrapped.set_backend(kind, self.shared[kind])
        self.tasks = self._questions()
        self.generated = not config.datasets and first.tasks is None
        self.envs = self.envs[: max(1, min(config.num_envs, len(self.tasks)))]

    def _questions(self) -> list[QATask]:
        config, env = self.config, self.envs[0].unwrapped
        if config.datasets:
            tasks = []
            for name in config.datasets:
                path = config.dataset_paths.get(name) or find_benchmark(config.data_dir, name)
                drawn = load_benchmark(name, path, size=config.sample_size, seed=config.sample_seed)
                tasks += drawn[: config.limit] if config.limit else drawn
            return tasks
        if env.tasks is not None:  # each task once, never wrapped around
            return list(env.tasks[: config.episodes])
        return [self._generated(seed) for seed in range(config.seed, config.seed + config.episodes)]

    def _generated(self, seed: int) -> QATask:
        env = self.envs[0].unwrapped
        env.reset(seed=seed)
        assert env.task is not None
        return env.task

    @property
    def env_config(self):
        return self.envs[0].unwrapped.config

    def call(self, model, query: str):
        return self.shared[model.backend or self.env_config.backend].call(model, query)

    def run(self, name: str, policy: Policy) -> tuple[list[RouterScore], list[Trajectory]]:
        # each router gets its own cost window, so one router's costs never scale another's reward
        normalizer = CostNormalizer(self.env_config.cost_window, self.env_config.cost_quantiles)
        for env in self.envs:
            env.unwrapped.cost_normalizer = normalizer
        specs = [EpisodeSpec(seed=i, group_id=task.id, options={"task": task})
                 for i, task in enumerate(self.tasks)]
        batch = run_episodes(self.envs, policy, specs)
        return scores_by_dataset(name, batch.trajectories, self.env_config), batch.trajectories

    def close(self) -> None:
        for backend in self.shared.values():
            backend.close()

    # ---------------------------------------------------------------- routers
    def router(self, spec: str) -> Policy:
        """The policy a ``--policy`` spec names: ``hf:``/``api:`` generate as ``config.generation`` says
        (Router-R1's loop under the ``router-r1`` protocol); ``checkpoint:DIR`` is the run's own
        policy, building its context as in its training."""
        kind, _, arg = spec.partition(":")
        generation = self.config.generation
        if self.env_config.protocol == "router-r1" and arg:
            if kind == "hf":
                return HFRouter.from_pretrained(arg, generation)
            if kind == "api":
                return APIRouter(*parse_api_spec(arg), generation)
        if kind == "hf" and arg:
            config = GenerationConfig(max_new_tokens=generation.max_new_tokens,
                                      greedy=generation.temperature == 0,
                                      temperature=generation.temperature or 1.0,
                                      max_context_tokens=generation.max_context_tokens)
            return HFPolicy(load_causal_lm(arg), load_tokenizer(arg), config, seed=generation.seed)
        if kind == "api" and arg:
            model, base_url = parse_api_spec(arg)
            api = APIPolicy(model=model, base_url=base_url, temperature=generation.temperature,
                            max_tokens=generation.max_new_tokens, stop=generation.stop or None)
            return TagClosingPolicy(api, generation.stop)
        return make_policy(spec, self.envs[0])

    def baseline_policies(self) -> dict[str, Policy]:
        chosen, route = set(self.config.baselines), baselines.RouteThenAnswer
        by_price = sorted(self.pool, key=lambda m: (m.price_per_1m, m.name))
        policies: dict[str, Policy] = {}
        if "single" in chosen:
            policies.update({f"single:{m}": route(baselines.fixed(m)) for m in self.pool.names})
        if "random" in chosen:
            policies["random"] = route(baselines.uniform_random(self.pool.names, self.config.random_seed))
        if "cheapest" in chosen:
            policies["cheapest"] = route(baselines.fixed(self.pool.cheapest().name))
        if "most-expensive" in chosen:
            policies["most-expensive"] = route(baselines.fixed(self.pool.most_expensive().name))
        if "cascade" in chosen:
            policies["cascade"] = baselines.Cascade([m.name for m in by_price], self.config.cascade_calls)
        metric = self.env_config.reward_metric
        if "oracle" in chosen:
            table = baselines.probe_pool(self.tasks, self.pool, self.call, metric)
            policies["oracle"] = route(baselines.oracle(table, self.pool))
        if "knn" in chosen:
            policies["knn"] = route(self._knn(metric))
        return policies

    def _knn(self, metric: str) -> baselines.KNNRouter:
        if self.generated:  # generated tasks: train on fresh seeds after the evaluated ones
            start = self.config.seed + self.config.episodes
            train_tasks = [self._generated(s) for s in range(start, start + self.config.knn_train_size)]
            exclude_self = False
        else:
            train_tasks, exclude_self = self.tasks, True
        table = baselines.probe_pool(train_tasks, self.pool, self.call, metric)
        router = baselines.KNNRouter(table, baselines.minilm_embedder(), k=self.config.knn_k,
                                     cost_weight=self.config.knn_cost_weight, exclude_self=exclude_self)
        router.precompute([task.question for task in self.tasks])
        return router


def with_candidates(env_kwargs: Mapping[str, Any], url: str | None, key_env: str) -> dict[str, Any]:
    """``env_kwargs`` with every pool model served by ``url`` (``backend=openai``)."""
    kwargs = dict(env_kwargs)
    if not url:
        return kwargs
    if kwargs.get("pool_file"):
        models = ModelPool.from_file(kwargs["pool_file"]).models
    else:
        models = ModelPool(kwargs.get("pool") or simulated_pool()).models
    pool = [dict(asdict(model), base_url=url, api_key_env=key_env, backend=None) for model in models]
    return {**kwargs, "pool": pool, "pool_file": None, "backend": "openai"}


class TagClosingPolicy:
    """Puts back the closing tag an OpenAI-style stop string cut off (``chat`` protocol)."""

    def __init__(self, inner: Policy, stops: Sequence[str]) -> None:
        self.inner, self.stops = inner, list(stops)

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        outputs = self.inner.act(inputs)
        for output in outputs:
            if self.stops and not output.generation_truncated:
                output.text = close_stopped_tag(output.text, None, self.stops)
        return outputs

    def close(self) -> None:
        getattr(self.inner, "close", lambda: None)()


# -------------------------------------------------------------------------- reports
def overall(scores: Sequence[RouterScore]) -> list[RouterScore]:
    return [s for s in scores if s.dataset == ALL]


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
    """One row per router and dataset."""
    lines = [(f"{'router':<32}{'dataset':<17}{'n':>5}{'EM':>7}{'F1':>7}{'$/1k q':>10}{'calls/q':>9}"
              f"{'format':>8}{'reward':>8}")]
    for s in scores:
        lines.append(f"{s.router[:31]:<32}{s.dataset[:16]:<17}{s.questions:>5}{s.em:>7.3f}{s.f1:>7.3f}"
                     f"{s.usd_per_1k:>10.4f}{s.calls_per_question:>9.2f}{s.format_ok:>8.2f}{s.reward:>8.3f}")
    return "\n".join(lines)


def paper_layout(scores: Sequence[RouterScore], reference: bool = True) -> str:
    """EM per dataset, one row per router, in the column layout of the paper's Table 1 (its rows
    follow for reference when the datasets are Router-R1's)."""
    datasets = [d for d in dict.fromkeys(s.dataset for s in scores) if d != ALL]
    header = f"{'EM':<32}" + "".join(f"{SHORT_NAMES.get(d, d)[:9]:>10}" for d in datasets) + f"{'Avg.':>10}"
    lines = [header]
    for router in dict.fromkeys(s.router for s in scores):
        cells = {s.dataset: s.em for s in scores if s.router == router}
        lines.append(f"{router[:31]:<32}" + "".join(f"{cells.get(d, float('nan')):>10.3f}" for d in datasets)
                     + f"{cells[ALL]:>10.3f}")
    known = [d for d in datasets if d in QA_BENCHMARKS]
    if reference and known:
        lines.append("paper, Table 1 (its 500 questions per set; Avg. over the columns shown):")
        for name, row in PAPER_TABLE.items():
            values = [row[QA_BENCHMARKS.index(d)] for d in known]
            cells = "".join(f"{v:>10.3f}" for v in values)
            lines.append(f"  {name[:30]:<30}{cells}{np.mean(values):>10.3f}")
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
    if front:
        axes.legend(loc="lower right", fontsize=8)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def router_eval(config: RouterEvalConfig | Mapping[str, Any] | None = None,
                policies: Mapping[str, Policy | str] | None = None, **overrides: Any) -> dict[str, Any]:
    """Evaluate ``policies`` (name -> policy or spec ``hf:PATH``/``checkpoint:DIR``/``api:MODEL@URL``)
    and the configured baselines."""
    config = build_config(RouterEvalConfig, config, overrides, where="router_eval")
    evaluation = RouterEvaluation(config)
    built: list[Any] = []
    try:
        routers: dict[str, Policy] = {}
        for name, policy in (policies or {}).items():
            routers[name] = evaluation.router(policy) if isinstance(policy, str) else policy
            built += [routers[name]] if isinstance(policy, str) else []
        routers.update(evaluation.baseline_policies())
        if not routers:
            raise ConfigError("nothing to evaluate: give a policy or at least one baseline")
        scores = [s for name, policy in routers.items() for s in evaluation.run(name, policy)[0]]
    finally:
        for policy in built:
            getattr(policy, "close", lambda: None)()
        evaluation.close()
    return _write_outputs(config, evaluation, scores)


def _write_outputs(config: RouterEvalConfig, evaluation: RouterEvaluation,
                   scores: list[RouterScore]) -> dict[str, Any]:
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    totals = overall(scores)
    datasets = {s.dataset for s in scores} - {ALL}
    # with one dataset the "all" row would repeat it
    detail = [s for s in scores if s.dataset != ALL] if len(datasets) == 1 else scores
    result = {
        "env": ENV_ID,
        "env_kwargs": config.env_kwargs,
        "candidates_url": config.candidates_url,
        "protocol": evaluation.env_config.protocol,
        "questions": len(evaluation.tasks),
        "datasets": {d: sum(1 for t in evaluation.tasks if t.data_source == d) for d in config.datasets},
        "generation": asdict(config.generation),
        "pool": [{k: v for k, v in asdict(m).items() if k != "api_key"} for m in evaluation.pool],
        "routers": [asdict(s) for s in totals],
        "per_dataset": [asdict(s) for s in scores if s.dataset != ALL],
        "paper_table_1": {"datasets": list(QA_BENCHMARKS), "em": PAPER_TABLE},
        "pareto_front": pareto_front(totals),
        "checks": front_checks(totals),
        "table": format_table(detail),
        "paper_layout": paper_layout(scores),
    }
    plot_pareto(totals, out / "pareto.png")
    (out / "router_eval.json").write_text(json.dumps(result, indent=2, default=str), encoding="utf-8")
    result["files"] = {"json": str(out / "router_eval.json"), "plot": str(out / "pareto.png")}
    return result
