"""The candidate models a router may call: names, prices, latencies, descriptions and endpoints."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

from agentrl.core.config import ConfigError, build_config
from agentrl.envs.router.protocol import normalize_model_name


@dataclass
class ModelSpec:
    """One model of the routing pool."""

    name: str = ""
    """The name the router writes in ``<search> NAME: query </search>`` (matched case-insensitively)."""
    price_per_1m: float = 0.0
    """Price per 1M completion tokens (dollars); Router-R1's cost is completion tokens x this."""
    latency_s: float = 0.0
    """Typical latency in seconds, shown to the router (measured latency is reported per call)."""
    description: str = ""
    """Capability description shown to the router."""
    aliases: list[str] = field(default_factory=list)
    """Other names that also select this model."""
    backend: str | None = None
    """Backend for this model (``simulated``, ``replay``, ``openai``, ``transformers``); ``None``
    uses the env's ``backend``."""
    base_url: str | None = None
    """OpenAI-compatible endpoint for this model (``openai`` backend)."""
    api_key: str | None = None
    """API key for ``base_url``; ``None`` reads the variable named by ``api_key_env``."""
    api_key_env: str = "OPENAI_API_KEY"
    """Environment variable holding the key when ``api_key`` is unset."""
    api_model: str | None = None
    """Model id sent to the endpoint, when it differs from ``name``."""
    hf_model: str | None = None
    """Local path or hub name of a transformers model (``transformers`` backend; ``tiny`` works offline)."""
    temperature: float | None = None
    """Sampling temperature of this model's calls; ``None`` uses ``calls.temperature`` (Router-R1
    samples Gemma at 0.1 and the rest at 0)."""

    def __post_init__(self) -> None:
        if not self.name or ":" in self.name:
            raise ValueError(f"a model needs a name without ':' (it separates model and query), "
                             f"got {self.name!r}")
        if self.price_per_1m < 0 or self.latency_s < 0:
            raise ValueError(f"model {self.name!r}: price_per_1m and latency_s must be >= 0")
        if self.temperature is not None and self.temperature < 0:
            raise ValueError(f"model {self.name!r}: temperature must be >= 0, got {self.temperature}")
        self.aliases = list(self.aliases)


class ModelPool:
    """An ordered set of :class:`ModelSpec`, looked up by name or alias."""

    def __init__(self, models: Iterable[ModelSpec | Mapping[str, Any]]) -> None:
        self.models = [m if isinstance(m, ModelSpec) else build_config(ModelSpec, m, where="pool model")
                       for m in models]
        if not self.models:
            raise ConfigError("the routing pool is empty; give at least one model")
        self._by_key: dict[str, ModelSpec] = {}
        for model in self.models:
            for name in [model.name, *model.aliases]:
                key = normalize_model_name(name)
                other = self._by_key.get(key)
                if other is not None and other is not model:
                    raise ConfigError(f"the name {name!r} selects both {other.name!r} and {model.name!r}")
                self._by_key[key] = model

    @classmethod
    def from_file(cls, path: str | Path) -> "ModelPool":
        """A pool from JSON or YAML: a list of model mappings, or ``{"models": [...]}``."""
        text = Path(path).read_text(encoding="utf-8")
        if str(path).endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
        models = data.get("models") if isinstance(data, Mapping) else data
        if not isinstance(models, list):
            raise ConfigError(f"{path}: expected a list of models or a mapping with a 'models' list")
        return cls(models)

    def resolve(self, name: str) -> ModelSpec | None:
        """The model whose name or alias equals ``name`` (ignoring case and spaces), or ``None``."""
        return self._by_key.get(normalize_model_name(name))

    def __contains__(self, name: str) -> bool:
        return self.resolve(name) is not None

    def __iter__(self):
        return iter(self.models)

    def __len__(self) -> int:
        return len(self.models)

    @property
    def names(self) -> list[str]:
        return [m.name for m in self.models]

    def cheapest(self) -> ModelSpec:
        return min(self.models, key=lambda m: (m.price_per_1m, m.name))

    def most_expensive(self) -> ModelSpec:
        return max(self.models, key=lambda m: (m.price_per_1m, m.name))

    def describe(self) -> str:
        """The pool as the router sees it: one paragraph per model."""
        return "\n".join(
            f"- {m.name} (${m.price_per_1m:g} per 1M output tokens, ~{m.latency_s:g}s): {m.description}"
            for m in self.models
        )
