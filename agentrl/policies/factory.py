"""Build a policy from a short spec string, as used by ``agentrl eval``.

Specs: ``random``, ``expert`` (or ``solver``: the env's own expert, when it has one),
``checkpoint:DIR`` (a trained agentrl checkpoint), ``hf:MODEL`` (a transformers model),
``api:MODEL@BASE_URL`` (an OpenAI-compatible endpoint).
"""

from __future__ import annotations

from typing import Any, Callable

from agentrl.core.config import ConfigError
from agentrl.core.policy import Policy, RandomPolicy

_PREFIXED: dict[str, Callable[[str, Any], Policy]] = {}


def register_policy_kind(prefix: str, build: Callable[[str, Any], Policy]) -> None:
    """Make ``PREFIX:ARG`` specs build policies with ``build(arg, env)``."""
    _PREFIXED[prefix] = build


def make_policy(spec: str, env: Any = None, *, seed: int | None = 0) -> Policy:
    name, _, arg = spec.partition(":")
    if name == "random":
        return RandomPolicy(seed=seed)
    if name in ("expert", "solver"):
        unwrapped = getattr(env, "unwrapped", env)
        expert = getattr(unwrapped, "expert_policy", None)
        policy = expert() if expert else None
        if policy is None:
            raise ConfigError(f"{getattr(env, 'spec', None) and env.spec.id} has no built-in expert policy")
        return policy
    _load_builtin_kinds()
    if name in _PREFIXED and arg:
        return _PREFIXED[name](arg, env)
    kinds = ["random", "expert", "solver"] + [f"{k}:ARG" for k in sorted(_PREFIXED)]
    raise ConfigError(f"unknown policy {spec!r}; valid policies: {', '.join(kinds)}")


def _load_builtin_kinds() -> None:
    import importlib

    for module in ("agentrl.policies.hf", "agentrl.policies.api", "agentrl.policies.vllm", "agentrl.train.checkpoint"):
        try:
            importlib.import_module(module)
        except ModuleNotFoundError as exc:
            if exc.name != module:
                raise
