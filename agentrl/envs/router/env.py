"""``agentrl/Router-v0``: answer a question by routing sub-queries to candidate LLMs (Router-R1).

Each turn the router writes ``<think>...</think>`` and then either calls a model with
``<search> Model-Name: query </search>`` -- answered in the next observation as
``<information>...</information>`` (``<information>None</information>`` for an unknown model or a
failed call) -- or finishes with ``<answer>...</answer>``. A turn is cut as Router-R1 cuts a
generation: after the first ``</answer>``, else after the last ``</search>``. A turn that answers
ends the episode (searches in that turn are not run).

The episode's reward is Router-R1's, given on the final step (see :mod:`agentrl.envs.router.reward`):
the format rules judge the whole transcript (:mod:`agentrl.envs.router.protocol`), the outcome is
EM (or F1), the cost is normalised over a rolling window. ``reward_components`` holds the weighted
``format``, ``outcome`` and ``cost`` parts (they sum to the reward); ``info`` holds the raw
``em``, ``f1``, ``cost``, ``normalized_cost``, ``num_calls`` and the format verdict.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping

from agentrl.core.actions import ActionFormat, ParsedTurn, extract_tag
from agentrl.core.config import ConfigError, build_config
from agentrl.core.env import EpisodeEnd, TextEnv, TextEnvConfig, TurnOutcome
from agentrl.envs.router.backends import Backend, CallSettings, backend_factories
from agentrl.envs.router.data import QATask, load_tasks, task_from_record
from agentrl.envs.router.pool import ModelPool, ModelSpec
from agentrl.envs.router.protocol import (
    blocks,
    check_format,
    cut_turn,
    final_answer_text,
    information_block,
    split_search,
)
from agentrl.envs.router.reward import (
    CostNormalizer,
    best_f1,
    call_cost,
    exact_match,
    router_r1_reward,
    shared_cost_normalizer,
)
from agentrl.envs.router.simulated import DOMAINS, generate_task, simulated_pool, solve


@dataclass(frozen=True)
class RouterTurnFormat(ActionFormat):
    """The router's whole turn is one action: the env reads the Router-R1 tags itself."""

    answer_tag: str | None = None

    def parse(self, text: str) -> ParsedTurn:
        if not isinstance(text, str):
            return ParsedTurn(error=f"the action must be text, got {type(text).__name__}")
        return ParsedTurn(actions=[text])

    def instructions(self) -> str:
        return ("Start with <think>...</think>; then either call one model with "
                "<search> Model-Name: query </search> or finish with <answer>...</answer>.")


@dataclass
class RouterEnvConfig(TextEnvConfig):
    max_turns: int = 4
    """Router turns per question (Router-R1 trains with 4); reaching it truncates the episode."""
    format_penalty: float = 0.0
    """Per-turn penalty; 0 because Router-R1 scores the format once, on the whole transcript."""
    action_format: RouterTurnFormat = field(default_factory=RouterTurnFormat)
    """The Router-R1 protocol reader (the env parses the tags itself)."""
    task_files: list[str] = field(default_factory=list)
    """QA JSONL, FlashRAG JSONL or Router-R1 parquet/JSONL files; empty plays generated tasks.
    ``reset(seed)`` picks task ``seed % n`` unless ``options['task_index']`` or ``options['task']``
    is given."""
    generated_domains: list[str] = field(default_factory=lambda: list(DOMAINS))
    """Domains of generated tasks (arithmetic, geography, chemistry, spelling, units)."""
    pool: list[ModelSpec] = field(default_factory=simulated_pool)
    """The routing pool (name, price per 1M tokens, latency, description, endpoint per model)."""
    pool_file: str | None = None
    """A JSON/YAML pool file; replaces ``pool`` when set."""
    backend: str = "simulated"
    """Default backend of pool models: simulated, replay, openai or transformers."""
    replay_files: list[str] = field(default_factory=list)
    """Recorded responses for the replay backend (JSONL of model, query, response, tokens)."""
    calls: CallSettings = field(default_factory=CallSettings)
    """How candidate models are called (timeouts, retries, token limit, system prompt)."""
    alpha: float = 0.0
    """Router-R1's cost coefficient: total = (1 - alpha) outcome + alpha normalised cost (0 in its
    released training script)."""
    reward_metric: str = "em"
    """Outcome score used in the reward: ``em`` (exact match) or ``f1``."""
    cost_window: int = 1000
    """Episodes in the rolling cost-normalisation window (Router-R1: 1000)."""
    cost_quantiles: tuple[float, float] = (0.05, 0.95)
    """Window percentiles that map to normalised cost 1 and 0 (Router-R1: P5 and P95)."""
    shared_cost_window: str | None = "router"
    """Envs in one process with the same name share one window (as Router-R1's single reward
    manager); ``None`` gives this env its own."""
    simulation_seed: int = 0
    """Seed of the simulated models' right/wrong draws."""

    def __post_init__(self) -> None:
        super().__post_init__()
        if self.reward_metric not in ("em", "f1"):
            raise ValueError(f"reward_metric must be 'em' or 'f1', got {self.reward_metric!r}")
        if not 0.0 <= self.alpha <= 1.0:
            raise ValueError(f"alpha must be in [0, 1], got {self.alpha}")
        self.cost_quantiles = tuple(self.cost_quantiles)  # type: ignore[assignment]
        unknown = [d for d in self.generated_domains if d not in DOMAINS]
        if unknown or not self.generated_domains:
            raise ValueError(f"generated_domains must name domains among {', '.join(DOMAINS)}; "
                             f"got {self.generated_domains}")
        self.pool = [m if isinstance(m, ModelSpec) else build_config(ModelSpec, m, where="pool model")
                     for m in self.pool]
        self.task_files = _as_list(self.task_files)
        self.replay_files = _as_list(self.replay_files)


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


class RouterEnv(TextEnv):
    """Route sub-queries to a pool of LLMs, then answer (see module docstring)."""

    Config = RouterEnvConfig
    config: RouterEnvConfig

    def __init__(self, config: RouterEnvConfig | Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        cfg = self.config
        self.pool = ModelPool.from_file(cfg.pool_file) if cfg.pool_file else ModelPool(cfg.pool)
        self.tasks: list[QATask] | None = load_tasks(*cfg.task_files) if cfg.task_files else None
        self._backends = self._build_backends()
        self.cost_normalizer = (
            shared_cost_normalizer(cfg.shared_cost_window, cfg.cost_window, cfg.cost_quantiles)
            if cfg.shared_cost_window else CostNormalizer(cfg.cost_window, cfg.cost_quantiles)
        )
        self.task: QATask | None = None
        self._seed: int | None = None

    def _build_backends(self) -> dict[str, Backend]:
        factories = backend_factories()
        kinds = {model.backend or self.config.backend for model in self.pool}
        unknown = sorted(kinds - set(factories))
        if unknown:
            raise ConfigError(f"unknown router backend(s) {unknown}; backends: {', '.join(factories)}")
        for model in self.pool:
            if (model.backend or self.config.backend) == "openai" and not model.base_url:
                raise ConfigError(f"model {model.name!r} uses the openai backend but has no base_url")
        return {kind: factories[kind](self.config) for kind in sorted(kinds)}

    @property
    def backends(self) -> dict[str, Backend]:
        """The backend serving each backend kind in use."""
        return dict(self._backends)

    def backend_for(self, model: ModelSpec) -> Backend:
        return self._backends[model.backend or self.config.backend]

    def set_backend(self, kind: str, backend: Backend) -> None:
        """Replace the backend serving ``kind`` (router-eval wraps backends in a cache)."""
        if kind not in self._backends:
            raise ConfigError(f"no models use backend {kind!r}; in use: {', '.join(self._backends)}")
        self._backends[kind] = backend

    def close(self) -> None:
        for backend in self._backends.values():
            backend.close()
        super().close()

    # ------------------------------------------------------------------ TextEnv hooks
    def reset_state(self, seed: int | None, options: Mapping[str, Any]) -> None:
        self._seed = seed
        self.task = self._choose_task(options)
        self._transcript: list[str] = []
        self._calls: list[dict[str, Any]] = []
        self._cost = 0.0
        self._episode_success = False
        self._last_text = f"Question: {self.task.question}\n"

    def _choose_task(self, options: Mapping[str, Any]) -> QATask:
        if "task" in options:
            task = options["task"]
            return task if isinstance(task, QATask) else task_from_record(task, "options['task']", "custom")
        if self.tasks is not None:
            index = options.get("task_index", self._seed)
            if index is None:
                index = self.np_random.integers(len(self.tasks))
            return self.tasks[int(index) % len(self.tasks)]
        seed = self._seed if self._seed is not None else int(self.np_random.integers(2**31))
        return generate_task(int(options.get("task_index", seed)), self.config.generated_domains)

    def task_id_for(self, seed: int | None) -> str:
        assert self.task is not None
        return self.task.id

    def render_text(self) -> str:
        return self._last_text

    def is_success(self) -> bool:
        return self._episode_success

    def instructions(self) -> str:
        return (
            "Answer the question. You may consult the models of a routing pool.\n"
            "Protocol, one turn at a time:\n"
            "1. Reason inside <think> ... </think> first (every turn; never empty).\n"
            "2. To ask a model, write <search> Model-Name: your sub-question </search> with the exact name "
            "of one model below and a concrete query (exactly one colon). Its reply comes back inside "
            "<information> ... </information>; <information>None</information> means the call failed.\n"
            "3. When you know the answer, write <answer> short answer </answer> and nothing after it.\n"
            "Calls cost money (price per 1M output tokens); prefer a cheap model that can answer.\n\n"
            f"Models:\n{self.pool.describe()}"
        )

    @classmethod
    def reward_preset(cls) -> list[dict[str, Any]]:
        """The routing reward is already complete per episode; the monitor watches it."""
        return [{"type": "RewardHackingMonitor"}]

    def expert_policy(self):
        """Route to the cheapest model that answers right (known for generated questions, whose
        answer follows from the text), then answer with its reply: demonstrations for SFT."""
        from agentrl.envs.router.baselines import RouteThenAnswer

        by_price = sorted(self.pool, key=lambda model: model.price_per_1m)

        def choose(question: str) -> str:
            solved = solve(question)
            for model in by_price if solved else ():
                result = self.backend_for(model).call(model, question)
                if result.ok and exact_match(final_answer_text(result.text or ""), [solved[1]]):
                    return model.name
            return by_price[-1].name

        return RouteThenAnswer(choose)

    def extra_info(self) -> dict[str, Any]:
        return {"question": self.task.question, "domain": self.task.domain} if self.task is not None else {}

    # ------------------------------------------------------------------ one router turn
    def run_turn(self, parsed: ParsedTurn) -> TurnOutcome:
        text = cut_turn(parsed.actions[0]) if parsed.ok else ""
        self._transcript.append(text)
        found = blocks(text)
        searches = [body for tag, body in found if tag == "search"]
        answered = any(tag == "answer" for tag, _ in found)
        extra: dict[str, Any] = {"actions_executed": 1, "calls": []}
        if answered:
            valid, observation = True, ""
        elif searches:
            valid, observation = self._run_searches(searches, extra["calls"])
        else:
            valid, observation = False, self._protocol_hint(parsed)
        self._last_text = observation
        return TurnOutcome(terminated=answered, valid=valid, info=extra)

    def _protocol_hint(self, parsed: ParsedTurn) -> str:
        reason = parsed.error or "the turn has neither a <search> nor an <answer> block"
        return (f"Invalid turn: {reason}. Write <think>...</think> and then <search> Model-Name: query "
                f"</search> or <answer>...</answer>. Models: {', '.join(self.pool.names)}.")

    def _run_searches(self, searches: list[str], calls: list[dict[str, Any]]) -> tuple[bool, str]:
        valid, pieces = True, []
        for body in searches:
            call, reason = split_search(body)
            if call is None:  # Router-R1 returns no information for a malformed search
                valid = False
                pieces.append(f"\n(Search ignored: {reason}.)\n")
                continue
            model = self.pool.resolve(call.model)
            if model is None:
                valid = False
                calls.append({"model": call.model, "query": call.query, "ok": False, "error": "unknown model",
                              "completion_tokens": 0, "cost": 0.0, "latency_s": 0.0})
                block = information_block(None)
            else:
                block = self._call_model(model, call.query, calls)
            self._transcript.append(block)
            pieces.append(block)
        return valid, "".join(pieces)

    def _call_model(self, model: ModelSpec, query: str, calls: list[dict[str, Any]]) -> str:
        result = self.backend_for(model).call(model, query)
        cost = call_cost(result.completion_tokens, model.price_per_1m) if result.ok else 0.0
        self._cost += cost
        record = {"model": model.name, "query": query, "ok": result.ok, "error": result.error,
                  "completion_tokens": result.completion_tokens if result.ok else 0, "cost": cost,
                  "latency_s": result.latency_s}
        calls.append(record)
        self._calls.append(record)
        if not result.ok:
            return information_block(None)
        return information_block((result.text or "")[: self.config.calls.max_information_chars])

    def finish_episode(self, terminated: bool, truncated: bool) -> EpisodeEnd:
        """Score the whole transcript: format, answer (EM/F1) and cost, as Router-R1's reward."""
        assert self.task is not None
        transcript = "".join(self._transcript)
        verdict = check_format(transcript, lambda name: name in self.pool)
        answer = extract_tag(transcript, "answer")
        em = exact_match(answer, self.task.golden_answers) if answer is not None else 0.0
        f1 = best_f1(answer, self.task.golden_answers) if answer is not None else 0.0
        outcome = em if self.config.reward_metric == "em" else f1
        normalized = self.cost_normalizer.normalize(self._cost)
        reward = router_r1_reward(verdict.reward, outcome, normalized, self.config.alpha)
        self._episode_success = em == 1.0
        info = dict(
            answer=answer, em=em, f1=f1, outcome=outcome, cost=self._cost, cost_usd=self._cost / 1e6,
            normalized_cost=normalized, num_calls=len(self._calls),
            failed_calls=sum(1 for c in self._calls if not c["ok"]),
            models_called=[c["model"] for c in self._calls], format_ok=verdict.ok,
            format_rule=verdict.rule, format_detail=verdict.detail, transcript=transcript,
        )
        return EpisodeEnd(reward_components=reward.components(), info=info)
