"""Task names for ``agentrl/MiniHack-v0``: short names, the MiniHack ids they stand for, families.

``task="KeyRoom-S5"`` plays MiniHack's ``MiniHack-KeyRoom-S5-v0``. Any other MiniHack or NLE id that
Gymnasium knows (``"MiniHack-Eat-v0"``, ``"Eat"``, ``"NetHackScore-v0"``) is passed through unchanged.
The *family* (the first part of the short name: ``KeyRoom``, ``Room``, ...) selects the subgoal oracles
(see :mod:`agentrl.envs.minihack.subgoals`).
"""

from __future__ import annotations

from dataclasses import dataclass

from agentrl.core.config import _suggest

#: The named tasks (short name -> MiniHack id). Every MiniHack id is ``MiniHack-<short name>-v0``.
NAMED_TASKS: tuple[str, ...] = (
    "Room-5x5",
    "Room-15x15",
    "Room-Random-5x5",
    "Room-Random-15x15",
    "Room-Dark-5x5",
    "Room-Dark-15x15",
    "Room-Monster-5x5",
    "Room-Monster-15x15",
    "Room-Trap-5x5",
    "Room-Trap-15x15",
    "Room-Ultimate-5x5",
    "Room-Ultimate-15x15",
    "Corridor-R2",
    "Corridor-R3",
    "Corridor-R5",
    "KeyRoom-Fixed-S5",
    "KeyRoom-S5",
    "KeyRoom-S15",
    "KeyRoom-Dark-S5",
    "KeyRoom-Dark-S15",
    "MazeWalk-9x9",
    "MazeWalk-15x15",
    "MazeWalk-45x19",
    "MazeWalk-Mapped-9x9",
    "MazeWalk-Mapped-15x15",
    "MazeWalk-Mapped-45x19",
    "River",
    "River-Narrow",
    "River-Monster",
    "River-Lava",
    "River-MonsterLava",
)

#: Families with their own subgoal oracles; any other task is in the ``generic`` family.
FAMILIES = ("KeyRoom", "Room", "Corridor", "MazeWalk", "River")


class UnknownTaskError(ValueError):
    """The task name is neither a named task nor a registered MiniHack/NLE id."""


@dataclass(frozen=True)
class TaskSpec:
    name: str
    """The name as given (short name or full id)."""
    env_id: str
    """The Gymnasium id of the MiniHack/NLE env that runs it."""
    family: str
    """``KeyRoom``, ``Room``, ``Corridor``, ``MazeWalk``, ``River`` or ``generic``."""


def minihack_id(short_name: str) -> str:
    return f"MiniHack-{short_name}-v0"


def family_of(env_id: str) -> str:
    if not env_id.startswith("MiniHack-"):
        return "generic"
    head = env_id[len("MiniHack-") :].split("-", 1)[0]
    return head if head in FAMILIES else "generic"


def resolve_task(task: str) -> TaskSpec:
    """The env id and family of ``task``; raises :class:`UnknownTaskError` listing the choices."""
    import gymnasium as gym

    _import_engines()
    candidates = [task] if task.endswith(tuple(f"-v{i}" for i in range(10))) else [minihack_id(task), task]
    for env_id in candidates:
        if env_id in gym.registry and _is_nle_env(env_id):
            return TaskSpec(task, env_id, family_of(env_id))
    raise UnknownTaskError(_unknown_task_message(task))


def _import_engines() -> None:
    """Importing minihack registers its ids (and NLE's) with Gymnasium."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import minihack  # noqa: F401
        import nle  # noqa: F401


def _is_nle_env(env_id: str) -> bool:
    from nle.env.base import NLE

    from agentrl.envs.minihack.engine import _creator

    creator = _creator(env_id)
    return isinstance(creator, type) and issubclass(creator, NLE)


def registered_engine_ids() -> list[str]:
    """Every MiniHack/NLE id Gymnasium knows (after importing the engines)."""
    import gymnasium as gym

    _import_engines()
    return sorted(i for i in gym.registry if i.startswith(("MiniHack-", "NetHack")))


def _unknown_task_message(task: str) -> str:
    others = registered_engine_ids()
    hint = _suggest(task, list(NAMED_TASKS) + others)
    return (
        f"Unknown MiniHack task {task!r}.{hint} Named tasks: {', '.join(NAMED_TASKS)}. "
        f"Any registered MiniHack/NLE id also works ({len(others)} known, e.g. "
        f"{', '.join(others[:4])}, ...)."
    )
