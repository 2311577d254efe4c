"""Model backends: how a routed ``(model, query)`` call is answered.

* ``openai`` -- any OpenAI-compatible endpoint through the ``openai`` client (per-model base URL
  and key, timeout, retries, token usage from the response);
* ``transformers`` -- a local causal LM (``ModelSpec.hf_model``; ``tiny`` is the offline test model);
* ``replay`` -- recorded responses from JSONL keyed by model and query (RouterBench style, see
  :mod:`agentrl.serving.replay`), for deterministic offline evaluation;
* ``simulated`` -- the offline default pool (:mod:`agentrl.envs.router.simulated`).

A backend never raises on a failed call: it returns a :class:`CallResult` with ``error`` set, and
the env shows ``<information>None</information>`` (Router-R1 does the same; the call costs 0).
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from agentrl.core.config import ConfigError
from agentrl.envs.router.pool import ModelSpec
from agentrl.models import ModelNotFoundError
from agentrl.serving.openai_server import approximate_token_count
from agentrl.serving.replay import ReplayTable
from agentrl.serving.responders import CausalLMResponder

#: The specialist system prompt of the ``chat`` protocol (Router-R1 sends none).
CHAT_SYSTEM_PROMPT = (
    "You are one of several specialist models consulted by a router model that is answering a "
    "question. Answer the sub-question as well as you can, briefly, and end with 'Answer: <your "
    "final answer>'. If you cannot help, say so plainly."
)


@dataclass
class CallSettings:
    """How the env calls candidate models (Router-R1's ``get_llm_response_via_api`` by default)."""

    timeout_s: float = 60.0
    """Per-request timeout (``openai`` backend; Router-R1: 60 s)."""
    max_retries: int = 2
    """Retries of a failed request with backoff (``openai`` backend; Router-R1's client: 2)."""
    max_tokens: int = 512
    """Completion token limit of a candidate model's answer (Router-R1: 512)."""
    temperature: float = 0.0
    """Sampling temperature of models whose ``ModelSpec.temperature`` is unset (Router-R1: 0)."""
    top_p: float = 1.0
    """Nucleus sampling mass sent with each call (Router-R1: 1.0)."""
    seed: int | None = 42
    """Sampling seed sent with each call (Router-R1: 42); ``None`` sends none."""
    system_prompt: str | None = None
    """System message of every call; ``None`` takes the protocol's (``router-r1``: none, ``chat``:
    a specialist instruction)."""
    query_template: str | None = None
    """The user message, with ``{query}`` for the routed query; ``None`` takes the protocol's
    (``router-r1``: Router-R1's candidate prompt, ``chat``: the bare query)."""
    max_information_chars: int | None = None
    """Longest reply shown inside ``<information>`` (longer replies are cut); ``None`` keeps it
    whole, as Router-R1 does with a ``max_tokens``-bounded reply."""

    def __post_init__(self) -> None:
        if self.max_tokens < 1 or self.max_retries < 0 or self.timeout_s <= 0:
            raise ValueError("calls: max_tokens must be >= 1, max_retries >= 0 and timeout_s > 0")
        if self.query_template is not None and "{query}" not in self.query_template:
            raise ValueError("calls.query_template must contain {query} where the routed query goes")


@dataclass
class CallResult:
    """The outcome of one routed call."""

    text: str | None
    """The model's reply, or ``None`` when the call failed."""
    completion_tokens: int = 0
    prompt_tokens: int = 0
    latency_s: float = 0.0
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.text is not None

    @classmethod
    def failed(cls, error: str, latency_s: float = 0.0) -> "CallResult":
        return cls(text=None, error=error, latency_s=latency_s)


class Backend(Protocol):
    def call(self, model: ModelSpec, query: str) -> CallResult: ...

    def close(self) -> None: ...


def chat_for(query: str, settings: CallSettings) -> list[dict[str, str]]:
    """The messages of a routed call: the system prompt (if any), then the query in its template
    (Router-R1: one user message, ``AGENT_PROMPT`` around the query)."""
    system = [{"role": "system", "content": settings.system_prompt}] if settings.system_prompt else []
    user = (settings.query_template or "{query}").format_map({"query": query})
    return system + [{"role": "user", "content": user}]


def temperature_for(model: ModelSpec, settings: CallSettings) -> float:
    return settings.temperature if model.temperature is None else model.temperature


class OpenAIBackend:
    """Calls each model's own OpenAI-compatible endpoint (clients are cached per endpoint and key)."""

    def __init__(self, settings: CallSettings) -> None:
        self.settings = settings
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _client(self, model: ModelSpec):
        import openai

        if not model.base_url:
            raise ValueError(f"model {model.name!r} uses the openai backend but has no base_url")
        key = model.api_key or os.environ.get(model.api_key_env) or "EMPTY"
        with self._lock:
            client = self._clients.get((model.base_url, key))
            if client is None:
                client = openai.OpenAI(base_url=model.base_url, api_key=key, timeout=self.settings.timeout_s,
                                       max_retries=self.settings.max_retries)
                self._clients[(model.base_url, key)] = client
        return client

    def call(self, model: ModelSpec, query: str) -> CallResult:
        import openai

        started = time.perf_counter()
        try:
            response = self._client(model).chat.completions.create(**self.request(model, query))
        except (openai.OpenAIError, ValueError) as exc:  # reported in info["calls"], shown as None
            return CallResult.failed(f"{type(exc).__name__}: {exc}", time.perf_counter() - started)
        text = response.choices[0].message.content or "" if response.choices else None
        if text is None:
            return CallResult.failed("the response has no choices", time.perf_counter() - started)
        usage = response.usage
        # A server that reports no usage is charged by an approximate count, never for free.
        tokens = int(usage.completion_tokens) if usage and usage.completion_tokens is not None \
            else approximate_token_count(text)
        return CallResult(text=text, completion_tokens=tokens,
                          prompt_tokens=int(usage.prompt_tokens) if usage and usage.prompt_tokens else 0,
                          latency_s=time.perf_counter() - started)

    def request(self, model: ModelSpec, query: str) -> dict[str, Any]:
        """The chat-completions request of one routed call (Router-R1's ``get_llm_response_via_api``)."""
        request: dict[str, Any] = {
            "model": model.api_model or model.name, "messages": chat_for(query, self.settings),
            "max_tokens": self.settings.max_tokens, "temperature": temperature_for(model, self.settings),
            "top_p": self.settings.top_p,
        }
        if self.settings.seed is not None:
            request["seed"] = self.settings.seed
        return request

    def close(self) -> None:
        with self._lock:
            for client in self._clients.values():
                client.close()
            self._clients.clear()


class TransformersBackend:
    """Generates with a local transformers model per ``ModelSpec.hf_model`` (loaded once, lazily)."""

    def __init__(self, settings: CallSettings) -> None:
        self.settings = settings
        self._responders: dict[str, Any] = {}
        self._lock = threading.Lock()

    def _responder(self, model: ModelSpec):
        source = model.hf_model or model.name
        with self._lock:
            if source not in self._responders:
                self._responders[source] = CausalLMResponder.from_pretrained(
                    source, max_new_tokens=self.settings.max_tokens,
                    temperature=temperature_for(model, self.settings))
            return self._responders[source]

    def call(self, model: ModelSpec, query: str) -> CallResult:
        started = time.perf_counter()
        try:
            reply = self._responder(model)(model.name, chat_for(query, self.settings), {})
        except ModelNotFoundError as exc:
            return CallResult.failed(f"ModelNotFoundError: {exc}", time.perf_counter() - started)
        return CallResult(text=reply.text, completion_tokens=reply.completion_tokens or 0,
                          prompt_tokens=reply.prompt_tokens or 0, latency_s=time.perf_counter() - started)

    def close(self) -> None:
        self._responders.clear()


class ReplayBackend:
    """Serves recorded responses (:class:`agentrl.serving.replay.ReplayTable`) by model and query."""

    def __init__(self, table) -> None:
        self.table = table

    @classmethod
    def from_files(cls, paths: list[str]) -> "ReplayBackend":
        if not paths:
            raise ConfigError("the replay backend needs replay_files (JSONL of model, query, response)")
        return cls(ReplayTable.from_jsonl(*paths))

    def call(self, model: ModelSpec, query: str) -> CallResult:
        record = self.table.get(model.name, query)
        if record is None:
            return CallResult.failed(f"no recorded response for {model.name!r} and this query")
        tokens = record.completion_tokens
        return CallResult(
            text=record.response,
            completion_tokens=approximate_token_count(record.response) if tokens is None else tokens,
            prompt_tokens=record.prompt_tokens or 0,
            latency_s=record.latency_s if record.latency_s is not None else model.latency_s,
        )

    def close(self) -> None:
        pass


class CachedBackend:
    """Memoises another backend by ``(model, query)``: evaluation calls each pair once, however
    many routers ask it."""

    def __init__(self, inner: Backend) -> None:
        self.inner = inner
        self._cache: dict[tuple[str, str], CallResult] = {}
        self._lock = threading.Lock()

    def call(self, model: ModelSpec, query: str) -> CallResult:
        key = (model.name, " ".join(query.split()))
        with self._lock:
            cached = self._cache.get(key)
        if cached is None:
            cached = self.inner.call(model, query)
            with self._lock:
                self._cache[key] = cached
        return cached

    def close(self) -> None:
        self.inner.close()
