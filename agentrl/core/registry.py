"""Environment registry: Gymnasium ids in the ``agentrl/`` namespace with lazy entry points.

``register`` records an env both here (with a one-line description for ``agentrl envs``) and in
Gymnasium's registry, so ``gymnasium.make("agentrl/Sokoban-v0")`` works after ``import agentrl``.
Third-party packages register on install through the ``agentrl.envs`` entry-point group: each
entry point names either a function that calls :func:`register`, or an env class, registered
under the entry point's name.
"""

from __future__ import annotations

import difflib
import importlib
from dataclasses import dataclass, field
from importlib import metadata
from typing import Any, Callable

import gymnasium as gym
from gymnasium.error import Error as GymError

from agentrl.core.config import ConfigError
from agentrl.core.extras import MissingExtraError, optional_module

NAMESPACE = "agentrl"
ENTRY_POINT_GROUP = "agentrl.envs"


class UnknownEnvError(GymError, KeyError):
    """No env is registered under the requested id."""

    def __str__(self) -> str:  # KeyError would otherwise quote the message
        return str(self.args[0]) if self.args else ""


@dataclass(frozen=True)
class EnvEntry:
    id: str
    entry_point: str | Callable[..., gym.Env]
    description: str = ""
    extra: str | None = None
    """The pip extra that provides this env's dependencies, if any."""
    defaults: dict[str, Any] = field(default_factory=dict)


_ENTRIES: dict[str, EnvEntry] = {}
_plugins_loaded = False


def qualify(env_id: str) -> str:
    """Put an id without a namespace into ``agentrl/``."""
    return env_id if "/" in env_id else f"{NAMESPACE}/{env_id}"


def register(
    id: str,
    entry_point: str | Callable[..., gym.Env],
    *,
    description: str = "",
    extra: str | None = None,
    **defaults: Any,
) -> str:
    """Register an env; returns its full id. ``defaults`` become constructor keyword arguments."""
    full_id = qualify(id)
    gym.envs.registration.parse_env_id(full_id)  # validates "ns/Name-vN"
    if isinstance(entry_point, str) and ":" not in entry_point:
        raise ValueError(f"entry_point must look like 'package.module:ClassName', got {entry_point!r}")
    _ENTRIES[full_id] = EnvEntry(full_id, entry_point, description, extra, dict(defaults))
    if full_id in gym.registry:
        del gym.registry[full_id]
    gym.register(id=full_id, entry_point=entry_point, kwargs=dict(defaults))
    return full_id


def _load_plugins() -> None:
    global _plugins_loaded
    if _plugins_loaded:
        return
    _plugins_loaded = True
    for entry in metadata.entry_points(group=ENTRY_POINT_GROUP):
        target = entry.load()
        if isinstance(target, type) and issubclass(target, gym.Env):
            register(entry.name, target, description=(target.__doc__ or "").strip().split("\n")[0])
        else:
            target()


def reload_plugins() -> None:
    """Read the ``agentrl.envs`` entry points again (after installing a plugin package)."""
    global _plugins_loaded
    _plugins_loaded = False
    _load_plugins()


def list_envs() -> list[str]:
    """Ids of every registered agentrl env, sorted."""
    _load_plugins()
    return sorted(_ENTRIES)


def import_env_module(env_id: str) -> str:
    """Gymnasium's ``module:Env-v0`` form: import ``module`` (which registers the env), return ``Env-v0``."""
    if ":" not in env_id:
        return env_id
    module, _, name = env_id.partition(":")
    try:
        importlib.import_module(module)
    except ImportError as exc:
        raise UnknownEnvError(f"cannot import module {module!r} named in env id {env_id!r} ({exc}); put it on "
                              "PYTHONPATH or in the current folder") from exc
    return name


def env_entry(env_id: str) -> EnvEntry:
    """The registration record of ``env_id`` (``module:Env-v0`` imports ``module`` first); raises
    :class:`UnknownEnvError` with suggestions."""
    _load_plugins()
    env_id = import_env_module(env_id)
    full_id = qualify(env_id)
    if full_id in _ENTRIES:
        return _ENTRIES[full_id]
    raise UnknownEnvError(unknown_env_message(env_id))


def unknown_env_message(env_id: str) -> str:
    known = sorted(_ENTRIES)
    short = {k.split("/", 1)[1]: k for k in known}
    close = difflib.get_close_matches(qualify(env_id), known, n=3, cutoff=0.4)
    close += [short[m] for m in difflib.get_close_matches(env_id, list(short), n=3, cutoff=0.4)]
    close = list(dict.fromkeys(close))
    hint = f" Did you mean {', '.join(close)}?" if close else ""
    return (
        f"Unknown environment id {env_id!r}.{hint} Registered envs: {', '.join(known)}. "
        "Register your own with agentrl.register(id, 'module:Class')."
    )


def env_class(env_id: str) -> Callable[..., gym.Env]:
    """The class (or factory) registered under ``env_id``, imported; a missing extra is a clear error."""
    entry = env_entry(env_id)
    if not isinstance(entry.entry_point, str):
        return entry.entry_point
    module, _, name = entry.entry_point.partition(":")
    return getattr(optional_module(module, entry.extra), name)


def make(env_id: str, **kwargs: Any) -> gym.Env:
    """Create a registered env; keyword arguments override its config. A ``ValueError`` the env raises
    while being built (a bad setting, a malformed level file, an unknown task id) is a :class:`ConfigError`."""
    entry = env_entry(env_id)
    env_class(entry.id)  # imports the module first, so a missing extra names the pip command
    try:
        return gym.make(entry.id, **kwargs)
    except ConfigError:
        raise
    except ValueError as exc:
        raise ConfigError(f"{entry.id}: {exc}") from exc
