"""Task names for ``agentrl/MiniHack-v0``: short names, the MiniHack ids they stand for, families,
and how MiniHack ships each task (its own action set, prompt handling and character).

``task="KeyRoom-S5"`` plays MiniHack's ``MiniHack-KeyRoom-S5-v0``. Any other MiniHack or NLE id that
Gymnasium knows (``"MiniHack-Eat-v0"``, ``"Eat"``, ``"NetHackScore-v0"``) is passed through unchanged.
The *family* (the first part of the short name: ``KeyRoom``, ``Room``, ...) selects the subgoal oracles
(see :mod:`agentrl.envs.minihack.subgoals`). :func:`stock_settings` reads what the task's own
constructor sets (``actions``, ``allow_all_yn_questions``, ``allow_all_modes``, ``character``) from
a game built as MiniHack ships it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from agentrl.core.config import _suggest
from agentrl.envs.minihack.character import check_character

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

    import_engines()
    candidates = [task] if task.endswith(tuple(f"-v{i}" for i in range(10))) else [minihack_id(task), task]
    for env_id in candidates:
        if env_id in gym.registry and _is_nle_env(env_id):
            return TaskSpec(task, env_id, family_of(env_id))
    raise UnknownTaskError(_unknown_task_message(task))


def import_engines() -> None:
    """Importing minihack registers its ids (and NLE's) with Gymnasium."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        import minihack  # noqa: F401
        import nle  # noqa: F401


def engine_creator(env_id: str) -> Callable[..., Any]:
    """The class (or function) registered for ``env_id``."""
    import gymnasium as gym
    from gymnasium.envs.registration import load_env_creator

    import_engines()  # the ids exist once minihack is imported
    entry = gym.registry[env_id].entry_point
    return load_env_creator(entry) if isinstance(entry, str) else entry


def build_engine_env(env_id: str, kwargs: Mapping[str, Any]):
    """The bare MiniHack/NLE env of ``env_id``, built from its registered entry point.

    Not through ``gymnasium.make``: that would take ``max_episode_steps`` for its own TimeLimit
    wrapper instead of passing it to NLE, and add checker wrappers on every step.
    """
    import gymnasium as gym

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
        return engine_creator(env_id)(**{**gym.registry[env_id].kwargs, **kwargs})


def _is_nle_env(env_id: str) -> bool:
    from nle.env.base import NLE

    creator = engine_creator(env_id)
    return isinstance(creator, type) and issubclass(creator, NLE)


def registered_engine_ids() -> list[str]:
    """Every MiniHack/NLE id Gymnasium knows (after importing the engines)."""
    import gymnasium as gym

    import_engines()
    return sorted(i for i in gym.registry if i.startswith(("MiniHack-", "NetHack")))


def _unknown_task_message(task: str) -> str:
    others = registered_engine_ids()
    hint = _suggest(task, list(NAMED_TASKS) + others)
    return (
        f"Unknown MiniHack task {task!r}.{hint} Named tasks: {', '.join(NAMED_TASKS)}. "
        f"Any registered MiniHack/NLE id also works ({len(others)} known, e.g. "
        f"{', '.join(others[:4])}, ...)."
    )


# --------------------------------------------------------------------------- as MiniHack ships it
@dataclass(frozen=True)
class StockSettings:
    """What a task's own constructor sets, read off a game built as MiniHack/NLE ships it."""

    actions: tuple[int, ...]
    """The task's action set: the NetHack keys of its ``env.actions`` (MiniHack's KeyRoom: the eight
    moves, ``,`` pick up and ``a`` apply)."""
    allow_all_yn_questions: bool
    allow_all_modes: bool
    character: str
    key_door: bool
    """The task is a MiniHack ``MiniHackKeyDoor`` (the KeyRoom family): its ``apply`` action is a
    scripted "unlock and open the door next to you with the key" (``MiniHackKeyDoor.step``)."""
    character_options: tuple[tuple[str, str], ...] = ()
    """The constructor keyword that sets the requested character (``character``, or MiniHack
    KeyRoom's own spelling ``charachter``); empty when none was requested."""


class CharacterNotSupported(ValueError):
    """The task fixes its character, or the requested one is not a character NetHack would play."""


def stock_settings(env_id: str, options: Mapping[str, Any], character: str | None = None) -> StockSettings:
    """How MiniHack ships ``env_id`` (with the user's constructor ``options``), and how to ask it
    for ``character``; raises :class:`CharacterNotSupported` when the task cannot play it.

    Reading them builds the task's env (no game is started); results are remembered per arguments.
    """
    key = (env_id, tuple(sorted((name, repr(value)) for name, value in options.items())), character)
    settings = _STOCK.get(key)
    if settings is None:
        if len(_STOCK) >= _STOCK_LIMIT:
            _STOCK.clear()
        settings = _STOCK[key] = _stock_settings(env_id, options, character)
    return settings


_STOCK: dict[tuple, StockSettings] = {}
_STOCK_LIMIT = 256


def _stock_settings(env_id: str, options: Mapping[str, Any], character: str | None) -> StockSettings:
    if character is None:
        return _read_stock(env_id, options, ())
    try:
        check_character(character)
    except ValueError as exc:
        raise CharacterNotSupported(str(exc)) from exc
    fixed = None
    # MiniHack's KeyRoom reads the character from ``charachter`` and overwrites ``character`` with its
    # default (minihack/envs/keyroom.py, MiniHackKeyDoor.__init__).
    for keyword in ("character", "charachter"):
        try:
            settings = _read_stock(env_id, {**options, keyword: character}, ((keyword, character),))
        except TypeError:  # the constructor does not take this keyword
            continue
        if settings.character == character:
            return settings
        fixed = settings.character
    raise CharacterNotSupported(
        f"task {env_id} plays a fixed character ({fixed!r}: its constructor sets it and ignores "
        f"'character'); leave character unset for this task"
    )


def _read_stock(env_id: str, options: Mapping[str, Any], character_options: tuple) -> StockSettings:
    from minihack.envs.keyroom import MiniHackKeyDoor

    env = build_engine_env(env_id, options)
    try:
        return StockSettings(
            actions=tuple(int(action) for action in env.actions),
            allow_all_yn_questions=bool(env._allow_all_yn_questions),
            allow_all_modes=bool(env._allow_all_modes),
            character=str(env.character),
            key_door=isinstance(env, MiniHackKeyDoor),
            character_options=character_options,
        )
    finally:
        env.close()
