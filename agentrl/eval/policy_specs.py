"""Policies named by a short spec string, as ``agentrl eval --policy SPEC`` and ``router-eval`` take them.

============================  ===============================================================
spec                          policy
============================  ===============================================================
``random``                    uniform over the env's ``available_actions`` (random text otherwise)
``expert`` / ``solver``       the env's own scripted expert (``TextEnv.expert_policy()``)
``checkpoint:DIR``            a trained agentrl run (its config rebuilds the agent; greedy per ``eval.greedy``)
``hf:MODEL``                  a transformers causal LM (local path or hub name; ``tiny`` offline)
``api:MODEL@URL``             an OpenAI-compatible endpoint
``vllm:MODEL``                vLLM generation (CUDA machines, the ``vllm`` extra)
============================  ===============================================================

``register_policy_kind(prefix, build)`` adds ``PREFIX:ARG`` specs for your own policies.
"""

from __future__ import annotations

from typing import Any, Callable

from agentrl.core.config import ConfigError
from agentrl.core.env import TextEnv
from agentrl.core.extras import optional_module
from agentrl.core.policy import Policy, RandomPolicy
from agentrl.policies.api import build_api_policy
from agentrl.policies.hf import pretrained_policy
from agentrl.train.restore import policy_from_checkpoint


def _vllm(arg: str, env: Any, seed: int) -> Policy:
    return optional_module("agentrl.policies.vllm", "vllm").VLLMPolicy.from_pretrained(arg)


#: ``PREFIX:ARG`` kinds: ``build(arg, env, seed) -> Policy``.
PREFIXED: dict[str, Callable[[str, Any, int], Policy]] = {
    "checkpoint": lambda arg, env, seed: policy_from_checkpoint(arg, seed=seed),
    "hf": lambda arg, env, seed: pretrained_policy(arg, seed=seed),
    "api": lambda arg, env, seed: build_api_policy(arg, env),
    "vllm": _vllm,
}


def register_policy_kind(prefix: str, build: Callable[[str, Any, int], Policy]) -> None:
    """Make ``PREFIX:ARG`` specs build policies with ``build(arg, env, seed)``."""
    PREFIXED[prefix] = build


def make_policy(spec: str, env: Any = None, *, seed: int = 0) -> Policy:
    """The policy ``spec`` names (see module docstring); unknown specs list the valid ones."""
    name, _, arg = spec.partition(":")
    if name == "random":
        return RandomPolicy(seed=seed)
    if name in ("expert", "solver"):
        base = getattr(env, "unwrapped", env)
        policy = base.expert_policy() if isinstance(base, TextEnv) else None
        if policy is None:
            env_id = env.spec.id if getattr(env, "spec", None) else type(base).__name__
            raise ConfigError(f"{env_id} has no built-in expert policy")
        return policy
    if name in PREFIXED and arg:
        return PREFIXED[name](arg, env, seed)
    kinds = ["random", "expert", "solver"] + [f"{k}:ARG" for k in sorted(PREFIXED)]
    raise ConfigError(f"unknown policy {spec!r}; valid policies: {', '.join(kinds)}")
