"""A policy that acts through an OpenAI-compatible chat-completions endpoint (for evaluation).

Each episode becomes one chat: the env's instructions as the system message, then alternating
user (observation) and assistant (the policy's earlier actions) messages, ending with the current
observation. Batched ``act`` calls run the requests in a thread pool. Timeouts and retries are the
``openai`` client's; a request that still fails raises :class:`APIPolicyError` naming the model,
the endpoint and the cause (the episode is never silently given an empty action).

Spec for ``agentrl eval --policy``: ``api:MODEL@BASE_URL`` (``api:MODEL`` reads ``OPENAI_BASE_URL``);
the key comes from ``OPENAI_API_KEY`` when set.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

from agentrl.core.config import ConfigError, build_config
from agentrl.core.policy import ActionOutput, PolicyInput
from agentrl.core.trajectory import observation_text


class APIPolicyError(RuntimeError):
    """A chat-completions request failed after the client's retries."""


@dataclass
class APIPolicyConfig:
    """How the API policy reaches its endpoint and samples."""

    model: str = ""
    """Model name sent in each request."""
    base_url: str = ""
    """Endpoint root, e.g. ``http://127.0.0.1:8000/v1``."""
    api_key: str | None = None
    """API key; ``None`` reads ``OPENAI_API_KEY`` (a placeholder is sent when that is unset too)."""
    temperature: float = 0.0
    """Sampling temperature (0 = greedy where the server supports it)."""
    max_tokens: int = 512
    """Completion token limit per turn."""
    stop: list[str] | None = None
    """Stop sequences sent with each request."""
    seed: int | None = None
    """Sampling seed sent with each request (servers may ignore it)."""
    timeout_s: float = 60.0
    """Per-request timeout in seconds."""
    max_retries: int = 2
    """Retries of a failed request (connection errors, timeouts, 429 and 5xx), with backoff."""
    concurrency: int = 8
    """Requests in flight at once within one batched ``act`` call."""
    system_prompt: str | None = None
    """System message; ``None`` uses the env's instructions."""

    def __post_init__(self) -> None:
        if not self.model or not self.base_url:
            raise ValueError("the API policy needs both model and base_url (spec api:MODEL@BASE_URL)")
        if self.concurrency < 1:
            raise ValueError(f"concurrency must be >= 1, got {self.concurrency}")


def chat_messages(item: PolicyInput, system_prompt: str | None = None) -> list[dict[str, str]]:
    """The chat for one episode: system, then (observation, action) pairs, then the observation."""
    system = item.instructions if system_prompt is None else system_prompt
    messages = [{"role": "system", "content": system}] if system else []
    for turn in item.history:
        messages.append({"role": "user", "content": turn.text_observation})
        messages.append({"role": "assistant", "content": turn.action})
    messages.append({"role": "user", "content": observation_text(item.observation)})
    return messages


class APIPolicy:
    """OpenAI-compatible chat policy (see module docstring)."""

    def __init__(self, config: APIPolicyConfig | Mapping[str, Any] | None = None, **overrides: Any) -> None:
        import openai

        self.config = build_config(APIPolicyConfig, config, overrides, where="APIPolicy")
        key = self.config.api_key or os.environ.get("OPENAI_API_KEY") or "EMPTY"
        self.client = openai.OpenAI(base_url=self.config.base_url, api_key=key,
                                    timeout=self.config.timeout_s, max_retries=self.config.max_retries)
        self._pool: ThreadPoolExecutor | None = None

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        if len(inputs) <= 1 or self.config.concurrency == 1:
            return [self._complete(item) for item in inputs]
        if self._pool is None:
            self._pool = ThreadPoolExecutor(self.config.concurrency, thread_name_prefix="agentrl-api-policy")
        return list(self._pool.map(self._complete, inputs))

    def _complete(self, item: PolicyInput) -> ActionOutput:
        import openai

        request: dict[str, Any] = {
            "model": self.config.model,
            "messages": chat_messages(item, self.config.system_prompt),
            "temperature": self.config.temperature,
            "max_tokens": self.config.max_tokens,
        }
        if self.config.stop:
            request["stop"] = list(self.config.stop)
        if self.config.seed is not None:
            request["seed"] = self.config.seed
        try:
            response = self.client.chat.completions.create(**request)
        except openai.OpenAIError as exc:
            raise APIPolicyError(
                f"API policy {self.config.model!r} at {self.config.base_url}: {type(exc).__name__}: {exc}"
            ) from exc
        choice = response.choices[0]
        truncated = choice.finish_reason == "length"
        return ActionOutput(text=choice.message.content or "", generation_truncated=truncated)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self.client.close()

    def __enter__(self) -> "APIPolicy":
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()


def parse_api_spec(arg: str) -> tuple[str, str]:
    """``MODEL@BASE_URL`` -> ``(model, base_url)``; without ``@`` the URL is ``$OPENAI_BASE_URL``."""
    model, at, base_url = arg.rpartition("@")
    if not at:
        model, base_url = arg, os.environ.get("OPENAI_BASE_URL", "")
    if not model or not base_url:
        raise ConfigError(
            f"api policy spec 'api:{arg}' needs a model and an endpoint: api:MODEL@BASE_URL "
            "(e.g. api:qwen2.5-7b@http://127.0.0.1:8000/v1), or set OPENAI_BASE_URL"
        )
    return model, base_url


def build_api_policy(arg: str, env: Any = None) -> APIPolicy:
    model, base_url = parse_api_spec(arg)
    return APIPolicy(model=model, base_url=base_url)

