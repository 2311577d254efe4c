"""The rollout backend a run uses, built from its config (``rollout.backend``).

One table maps each backend name to its builder; the config checks names against it, so the list of
backends is written once. Backends that need an optional extra load it when they are built.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Callable

from agentrl.core.config import ConfigError
from agentrl.core.extras import optional_module
from agentrl.core.registry import make
from agentrl.rollout.backend import LocalBackend, RolloutBackend

if TYPE_CHECKING:  # the config module imports this table; the builders only read the config
    from agentrl.train.config import TrainConfig


def make_envs(config: "TrainConfig", count: int, *, evaluation: bool = False) -> list:
    """``count`` envs of the run's env, with its kwargs (plus ``eval_kwargs`` for evaluation)."""
    kwargs = dict(config.env.kwargs)
    if evaluation:
        kwargs.update(config.env.eval_kwargs)
    return [make(config.env.id, **kwargs) for _ in range(count)]


def local_backend(config: "TrainConfig") -> RolloutBackend:
    return LocalBackend(make_envs(config, config.rl.num_envs), threads=config.rollout.threads,
                        waves=config.rollout.waves)


def ray_backend(config: "TrainConfig") -> RolloutBackend:
    ray = optional_module("agentrl.rollout.ray", "ray")
    return ray.RayRolloutBackend(config.env.id, dict(config.env.kwargs), config.rollout.ray, waves=config.rollout.waves)


def selfplay_backend(config: "TrainConfig") -> RolloutBackend:
    selfplay = optional_module("agentrl.rollout.selfplay", "multiagent")
    module, _, name = config.rollout.selfplay.env.partition(":")
    try:
        factory = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"rollout.selfplay.env: cannot load {config.rollout.selfplay.env!r} "
                          f"(give module:factory): {exc}") from exc
    kwargs = dict(config.rollout.selfplay.kwargs)
    return selfplay.SelfPlayBackend(lambda: factory(**kwargs), config.rl.num_envs)


#: Rollout backends by ``rollout.backend`` name.
ROLLOUT_BACKENDS: dict[str, Callable[["TrainConfig"], RolloutBackend]] = {
    "local": local_backend,
    "ray": ray_backend,
    "selfplay": selfplay_backend,
}


def build_rollout_backend(config: "TrainConfig") -> RolloutBackend:
    return ROLLOUT_BACKENDS[config.rollout.backend](config)
