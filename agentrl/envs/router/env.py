"""``agentrl/Router-v0``: answer a question by routing sub-queries to candidate LLMs (Router-R1).

Each step is one generation of the router. The env keeps what Router-R1 keeps of it
(:func:`~agentrl.envs.router.protocol.cut_generation`), reads its one action
(:func:`~agentrl.envs.router.protocol.first_action`) and, for a routed ``<search> Model: query
</search>``, calls the model and inserts ``\\n\\n<information>reply</information>\\n\\n`` after it
(``<information>None</information>`` for an unknown model or a failed call). ``<answer>...</answer>``
ends the episode. The whole *response* -- every kept generation plus the inserted blocks -- is
scored once, at the end, by Router-R1's reward (:mod:`agentrl.envs.router.reward`).

Two protocols (``protocol``):

* ``router-r1`` (default) reproduces github.com/ulab-uiuc/Router-R1: its prompt template is the
  first observation (one user message, no system prompt); model names resolve by substring
  (``check_llm_name``); ``max_turns`` (5) is its 4 routed generations plus one final generation whose
  search is not run; candidates get its prompt, temperature and seed. The inserted block belongs
  *inline* in the same assistant reply: ``info["inline_observation"]`` is exactly the text upstream
  appends to the response after this generation ("" when it appends nothing), and
  ``info["kept_text"]`` is the kept generation (see docs/router.md for token-exact rollouts).
* ``chat``: the same turn rules with a compact prompt (the pool with prices, as the system
  instructions; ``Question: ...`` as the observation), names matched exactly (name or alias, case
  and spaces ignored), every one of ``max_turns`` (4) turns routed, and a specialist system prompt
  for candidates. For chat routers, custom pools and small models.

``render_text()`` is the state: the prompt until a search has been answered, then the question and
the number of answered searches. A turn's feedback (the ``<information>`` block, a protocol hint)
is its message, shown above it. ``reward_components`` holds the weighted ``format``, ``outcome``
and ``cost`` parts; ``info`` the raw ``em``, ``f1``, ``cost``, ``normalized_cost``, ``num_calls``,
``route_count`` and the format verdict.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from agentrl.core.actions import ActionFormat, ParsedTurn, extract_tag
from agentrl.core.config import ConfigError, build_config, check_choice
from agentrl.core.env import EpisodeEnd, RewardBounds, TextEnv, TextEnvConfig, TurnOutcome
from agentrl.envs.router.backends import (
    CHAT_SYSTEM_PROMPT,
    Backend,
    CallResult,
    CallSettings,
    OpenAIBackend,
    ReplayBackend,
    TransformersBackend,
)
from agentrl.envs.router.baselines import RouteThenAnswer, routed_query
from agentrl.envs.router.data import QATask, load_tasks, task_from_record
from agentrl.envs.router.pool import ModelPool, ModelSpec
from agentrl.envs.router.protocol import (
    check_format,
    cut_generation,
    final_answer_text,
    first_action,
    information_block,
    route_count,
    route_parts,
)
from agentrl.envs.router.reward import (
    CostNormalizer,
    best_f1,
    call_cost,
    exact_match,
    router_r1_reward,
    shared_cost_normalizer,
)
from agentrl.envs.router.router_r1 import (
    CANDIDATE_PROMPT,
    PROMPT_TEMPLATES,
    ROUTER_R1_IDS,
    resolve_model_name,
    router_r1_prompt,
)
from agentrl.envs.router.simulated import DOMAINS, SimulatedBackend, generate_task, simulated_pool, solve

PROTOCOLS = ("router-r1", "chat")
NAME_MATCHING = ("router-r1", "exact")
#: Reply texts Router-R1's loop reads as a failed call (``execute_predictions``): shown as None.
_ERROR_REPLIES = ("llm name error", "api request error")


@dataclass(frozen=True)
class RouterTurnFormat(ActionFormat):
    """The router's whole generation is one action: the env reads the Router-R1 tags itself."""

    answer_tag: str | None = None

    def parse(self, text: str) -> ParsedTurn:
        if not isinstance(text, str):
            return ParsedTurn(error=f"the action must be text, got {type(text).__name__}")
        return ParsedTurn(actions=(text,))

    def instructions(self) -> str:
        return ("Start with <think>...</think>; then either call one model with "
                "<search> Model-Name: query </search> or finish with <answer>...</answer>.")


@dataclass
class RouterEnvConfig(TextEnvConfig):
    protocol: str = "router-r1"
    """``router-r1`` (Router-R1's loop, prompt and names, exactly) or ``chat`` (module docstring)."""
    max_turns: int | None = None  # type: ignore[assignment]
    """Generations per question; ``None`` takes the protocol's: 5 for ``router-r1`` (Router-R1's
    ``max_turns=4`` routed generations plus its final one, whose search is not run), 4 for ``chat``."""
    format_penalty: float = 0.0
    """Per-turn penalty; 0 because Router-R1 scores the format once, on the whole response."""
    action_format: RouterTurnFormat = field(default_factory=RouterTurnFormat)
    """The Router-R1 protocol reader (the env parses the tags itself)."""
    name_matching: str | None = None
    """How a written model name selects a pool model: ``router-r1`` (Router-R1's substring rules turn
    it into a model id; the pool model whose name or an alias gives the same id) or ``exact`` (name
    or alias, case and spaces ignored); ``None`` takes the protocol's."""
    prompt_template: str = "qwen"
    """``router-r1``: Router-R1's prompt template, ``qwen`` or ``llama`` (a task that carries its own
    prompt, from a Router-R1 parquet file, uses that)."""
    task_files: list[str] = field(default_factory=list)
    """QA JSONL, FlashRAG JSONL or Router-R1 parquet/JSONL files; empty plays generated tasks.
    ``reset(seed)`` picks task ``seed % n`` unless ``options['task_index']`` or ``options['task']``
    is given."""
    generated_domains: list[str] = field(default_factory=lambda: list(DOMAINS))
    """Domains of generated tasks (arithmetic, geography, chemistry, spelling, units)."""
    pool: list[ModelSpec] = field(default_factory=simulated_pool)
    """The routing pool (name, price per 1M tokens, latency, description, endpoint per model);
    Router-R1's six candidates by default."""
    pool_file: str | None = None
    """A JSON/YAML pool file; replaces ``pool`` when set."""
    backend: str = "simulated"
    """Default backend of pool models: simulated, replay, openai or transformers."""
    replay_files: list[str] = field(default_factory=list)
    """Recorded responses for the replay backend (JSONL of model, query, response, tokens)."""
    calls: CallSettings = field(default_factory=CallSettings)
    """How candidate models are called (timeouts, retries, token limit, prompts)."""
    alpha: float = 0.0
    """Router-R1's cost coefficient: total = (1 - alpha) outcome + alpha normalised cost (0 in its
    released scripts)."""
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
        check_choice("protocol", self.protocol, PROTOCOLS)
        router_r1 = self.protocol == "router-r1"
        if self.max_turns is None:
            self.max_turns = 5 if router_r1 else 4
        super().__post_init__()
        if self.name_matching is None:
            self.name_matching = "router-r1" if router_r1 else "exact"
        check_choice("name_matching", self.name_matching, NAME_MATCHING)
        check_choice("prompt_template", self.prompt_template, tuple(PROMPT_TEMPLATES))
        check_choice("reward_metric", self.reward_metric, ("em", "f1"))
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
        self.calls = dataclasses.replace(
            self.calls,
            system_prompt=("" if router_r1 else CHAT_SYSTEM_PROMPT) if self.calls.system_prompt is None
            else self.calls.system_prompt,
            query_template=(CANDIDATE_PROMPT if router_r1 else "{query}") if self.calls.query_template is None
            else self.calls.query_template,
        )


def _as_list(value: str | list[str]) -> list[str]:
    return [value] if isinstance(value, str) else list(value)


BackendFactory = Callable[[RouterEnvConfig], Backend]


def backend_factories() -> dict[str, BackendFactory]:
    """Backend kind -> factory taking the env config."""
    return {
        "simulated": lambda config: SimulatedBackend(seed=config.simulation_seed),
        "replay": lambda config: ReplayBackend.from_files(list(config.replay_files)),
        "openai": lambda config: OpenAIBackend(config.calls),
        "transformers": lambda config: TransformersBackend(config.calls),
    }


class RouterEnv(TextEnv):
    """Route sub-queries to a pool of LLMs, then answer (see module docstring)."""

    Config = RouterEnvConfig
    config: RouterEnvConfig

    def __init__(self, config: RouterEnvConfig | Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        cfg = self.config
        self.pool = ModelPool.from_file(cfg.pool_file) if cfg.pool_file else ModelPool(cfg.pool)
        self.tasks: list[QATask] | None = load_tasks(*cfg.task_files) if cfg.task_files else None
        self._by_router_r1_id = self._router_r1_ids() if cfg.name_matching == "router-r1" else {}
        self._backends = self._build_backends()
        self.cost_normalizer = (
            shared_cost_normalizer(cfg.shared_cost_window, cfg.cost_window, cfg.cost_quantiles)
            if cfg.shared_cost_window else CostNormalizer(cfg.cost_window, cfg.cost_quantiles)
        )
        self.task: QATask | None = None

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

    def _router_r1_ids(self) -> dict[str, ModelSpec]:
        """Router-R1 model id -> pool model. A model's id is its name or alias that *is* a Router-R1
        id, else the id its name or an alias resolves to (so ``mistralai/mixtral-...`` is Mixtral's
        id, though the written name ``mistralai/mixtral-...`` selects Mistral-7B, as upstream)."""
        by_id: dict[str, ModelSpec] = {}
        for model in self.pool:
            names = [model.name, *model.aliases]
            model_id = next((n.lower() for n in names if n.lower() in ROUTER_R1_IDS), "") or next(
                (resolve_model_name(n) for n in names if resolve_model_name(n)), "")
            if not model_id:
                raise ConfigError(
                    f"model {model.name!r} can never be selected under name_matching='router-r1': its name "
                    "and aliases match none of Router-R1's model families (qwen, llama + size, mistral, "
                    "mixtral, gemma, ...); give it an alias such as 'qwen/qwen2.5-7b-instruct' or set "
                    "name_matching: exact")
            if by_id.setdefault(model_id, model) is not model:
                raise ConfigError(f"the Router-R1 id {model_id!r} selects both {by_id[model_id].name!r} "
                                  f"and {model.name!r}; give one of them another name")
        return by_id

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

    # ------------------------------------------------------------------ model names
    def resolve_model(self, written: str) -> ModelSpec | None:
        """The pool model a router-written name selects (``name_matching``), or ``None``."""
        if self.config.name_matching == "exact":
            return self.pool.resolve(written)
        return self._by_router_r1_id.get(resolve_model_name(written))

    def is_valid_name(self, written: str) -> bool:
        """A name the format rules accept: one Router-R1's ``is_valid_llm_name`` accepts (it need
        not be in the pool), or with exact matching a pool name."""
        if self.config.name_matching == "exact":
            return written.strip() in self.pool
        return bool(resolve_model_name(written))

    # ------------------------------------------------------------------ TextEnv hooks
    def reset_state(self, seed: int | None, options: Mapping[str, Any]) -> None:
        self.task = self._choose_task(seed, options)
        self._response: list[str] = []  # kept generations and inserted blocks, in order
        self._calls: list[dict[str, Any]] = []
        self._cost = 0.0
        self._answered = 0  # searches the env answered with an <information> block
        self._episode_success = False

    def _choose_task(self, seed: int | None, options: Mapping[str, Any]) -> QATask:
        if "task" in options:
            task = options["task"]
            return task if isinstance(task, QATask) else task_from_record(task, "options['task']", "custom")
        if self.tasks is not None:
            index = options.get("task_index", seed)
            if index is None:
                index = self.np_random.integers(len(self.tasks))
            return self.tasks[int(index) % len(self.tasks)]
        seed = seed if seed is not None else int(self.np_random.integers(2**31))
        return generate_task(int(options.get("task_index", seed)), self.config.generated_domains)

    def task_id_for(self, seed: int | None) -> str:
        assert self.task is not None
        return self.task.id

    def prompt(self) -> str:
        """The router's first message: Router-R1's template (or the task's own prompt) with the
        question, or ``Question: ...`` under the ``chat`` protocol."""
        assert self.task is not None
        if self.config.protocol == "chat":
            return f"Question: {self.task.question}\n"
        return self.task.prompt or router_r1_prompt(self.task.question, self.config.prompt_template)

    def render_text(self) -> str:
        assert self.task is not None
        if self._answered == 0:
            return self.prompt()
        return f"Question: {self.task.question}\nModel calls answered so far: {self._answered}."

    def is_success(self) -> bool:
        return self._episode_success

    def instructions(self) -> str:
        """``router-r1``: none (upstream's prompt is one user message). ``chat``: the protocol and the
        pool with prices."""
        if self.config.protocol == "router-r1":
            return ""
        return (
            "Answer the question. You may consult the models of a routing pool.\n"
            "Protocol, one turn at a time:\n"
            "1. Reason inside <think> ... </think> first (every turn; never empty).\n"
            "2. To ask a model, write <search> Model-Name: your sub-question </search> with the exact name "
            "of one model below and a concrete query (exactly one colon). Only the first <search> or "
            "<answer> of a turn counts. The reply comes back inside <information> ... </information>; "
            "<information>None</information> means the call failed.\n"
            "3. When you know the answer, write <answer> short answer </answer> and nothing after it.\n"
            "Calls cost money (price per 1M output tokens); prefer a cheap model that can answer.\n\n"
            f"Models:\n{self.pool.describe()}"
        )

    def format_error(self, reason: str) -> str:
        return (f"Invalid turn: {reason}. Write <think>...</think> and then <search> Model-Name: query "
                f"</search> or <answer>...</answer>. Models: {', '.join(self.pool.names)}.")

    def reward_bounds(self) -> RewardBounds:
        """Router-R1's reward is given once, on the last turn: format ``f`` (0, or -1 on any rule
        violation, which voids the rest), outcome ``o`` (EM or F1, in [0, 1]) and normalised cost
        ``k`` (in [0, 1]) give ``(o + f)(1 - alpha) + alpha k`` <= 1 when ``f = 0, o > 0``, else ``f``.
        Every turn may add ``format_penalty`` (<= 0; 0 by default) for a turn with no action. So a
        turn earns within [-1 + format_penalty, 1] and an episode within
        [-1 + max_turns * format_penalty, 1]."""
        penalty, turns = self.config.format_penalty, self.config.max_turns
        return RewardBounds(step=(-1.0 + penalty, 1.0), episode=(-1.0 + turns * penalty, 1.0))

    @classmethod
    def reward_preset(cls) -> list[dict[str, Any]]:
        """The routing reward is already complete per episode; the monitor watches it."""
        return [{"type": "RewardHackingMonitor"}]

    def expert_policy(self):
        """Route to the cheapest model that answers right (known for generated questions, whose
        answer follows from the text), then answer with its reply: demonstrations for SFT."""
        by_price = sorted(self.pool, key=lambda model: model.price_per_1m)

        def choose(question: str) -> str:
            solved = solve(question)
            for model in by_price if solved else ():
                result = self.backend_for(model).call(model, routed_query(question))
                if result.ok and exact_match(final_answer_text(result.text or ""), [solved[1]]):
                    return model.name
            return by_price[-1].name

        return RouteThenAnswer(choose)

    def extra_info(self) -> dict[str, Any]:
        if self.task is None:
            return {}
        task = self.task
        return {"question": task.question, "domain": task.domain, "data_source": task.data_source}

    # ------------------------------------------------------------------ one generation
    def run_turn(self, parsed: ParsedTurn) -> TurnOutcome:
        info: dict[str, Any] = {"actions_executed": 0, "calls": [], "kept_text": "", "inline_observation": ""}
        if not parsed.ok:  # not text at all: nothing joins the response
            message = self.format_error(parsed.error or "malformed")
            return TurnOutcome(valid=False, messages=[message], info=info)
        kept = cut_generation(parsed.actions[0])  # generation._postprocess_responses
        self._response.append(kept)  # the kept text joins the response whatever it does (_update_right_side)
        info["kept_text"] = kept
        action = first_action(kept)  # generation.postprocess_predictions
        if action.kind is None or action.kind == "bad-search":  # execute_predictions appends nothing
            return TurnOutcome(valid=False, messages=[self.format_error(action.reason)], info=info)
        info["actions_executed"] = 1
        if action.kind == "answer":
            return TurnOutcome(terminated=True, info=info)
        if self._is_final_generation():
            note = "The turn budget is spent: this last generation's search is not run."
            return TurnOutcome(messages=[note], info=info)
        block = self._route(action.content, info["calls"])  # route_service.access_routing_pool
        self._response.append(block)  # execute_predictions' next_obs, inline in the same reply
        self._answered += 1
        info["inline_observation"] = block
        return TurnOutcome(messages=[block], info=info)

    def _is_final_generation(self) -> bool:
        """Router-R1's extra generation after its routed ones (``run_llm_loop``, ``do_route=False``)."""
        return self.config.protocol == "router-r1" and self.turn >= self.config.max_turns

    def _route(self, content: str, calls: list[dict[str, Any]]) -> str:
        written, query = route_parts(content)
        if self.config.protocol == "chat":
            query = query.strip()
        model = self.resolve_model(written)
        if model is None:  # upstream's "LLM Name Error": no call, no cost
            calls.append({"model": written, "query": query, "ok": False, "error": "unknown model",
                          "completion_tokens": 0, "cost": 0.0, "latency_s": 0.0})
            return information_block(None)
        return self._call_model(model, query, calls)

    def _call_model(self, model: ModelSpec, query: str, calls: list[dict[str, Any]]) -> str:
        try:
            result = self.backend_for(model).call(model, query)  # route_service.request_task
        except Exception as exc:  # noqa: BLE001 - a backend bug must not escape step(); the call fails
            result = CallResult.failed(f"{type(exc).__name__} in the {model.backend or self.config.backend} "
                                       f"backend: {exc}")
        cost = call_cost(result.completion_tokens, model.price_per_1m) if result.ok else 0.0
        self._cost += cost
        record = {"model": model.name, "query": query, "ok": result.ok, "error": result.error,
                  "completion_tokens": result.completion_tokens if result.ok else 0, "cost": cost,
                  "latency_s": result.latency_s}
        calls.append(record)
        self._calls.append(record)
        text = result.text
        if text is None or text.strip().lower() in _ERROR_REPLIES:
            return information_block(None)
        limit = self.config.calls.max_information_chars
        return information_block(text if limit is None else text[:limit])

    def finish_episode(self, terminated: bool, truncated: bool) -> EpisodeEnd:
        """Score the whole response: format, answer (EM/F1) and cost, as Router-R1's reward."""
        assert self.task is not None
        response = "".join(self._response)
        verdict = check_format(response, self.is_valid_name)  # main_ppo.format_reward
        answer = extract_tag(response, "answer")  # qa_em.extract_solution: the last <answer>
        em = exact_match(answer, self.task.golden_answers) if answer is not None else 0.0
        f1 = best_f1(answer, self.task.golden_answers) if answer is not None else 0.0
        outcome = em if self.config.reward_metric == "em" else f1
        normalized = self.cost_normalizer.normalize(self._cost)  # main_ppo.normalize_reward
        # qa_em.compute_score_em
        reward = router_r1_reward(verdict.reward, outcome, normalized, self.config.alpha)
        self._episode_success = em == 1.0
        info = dict(
            answer=answer, em=em, f1=f1, outcome=outcome, cost=self._cost, cost_usd=self._cost / 1e6,
            normalized_cost=normalized, num_calls=len(self._calls),
            failed_calls=sum(1 for c in self._calls if not c["ok"]),
            models_called=[c["model"] for c in self._calls], format_ok=verdict.ok,
            format_rule=verdict.rule, format_detail=verdict.detail, transcript=response,
            route_count=route_count(response, self.is_valid_name),
        )
        return EpisodeEnd(reward_components=reward.components(), info=info)
