"""Subgoal oracles: verified checks of task progress, computed from NLE state and game messages.

Each oracle answers one question after every action ("is the key in the inventory now?"). The
env reports a subgoal the first time its oracle says yes in an episode, in
``Transition(subgoals=...)``; the base class turns that into ``info["subgoals"]`` for CALM's oracle
judge. A subgoal that already holds when the episode starts (for example the stairs are in view
from the first square) is left out of that episode's list: no transition can achieve it.

==========================  =================================================================
Subgoal                     Fires when
==========================  =================================================================
pick up the key             an inventory line names a key
unlock the door             "You succeed in unlocking the door" / "... picking the lock", or a
                            door seen closed is now open or broken (a door cannot open locked)
open the door               a square seen as a closed door now shows an open door or doorway,
                            or the agent stands in it
find the stairs             a staircase down is on the map (only if it was not at the start)
reach the stairs            the task is won by standing on the staircase down
enter a corridor            the agent steps onto a square last seen as corridor
push a boulder into the     a square seen as water is now floor (a boulder filled it)
water
kill a monster              "You kill ..." / "You destroy ..."
==========================  =================================================================

Families (``tasks.family_of``): KeyRoom = key, unlock, open, find, reach; Room = find, reach (plus
kill for Monster/Ultimate rooms); Corridor = corridor, find, reach; MazeWalk = find, reach; River =
boulder, find, reach (plus kill for Monster rivers); any other staircase task = find, reach.
``build_oracles(..., names=[...])`` (the env's ``subgoal_checks``) picks checks by name instead.

:data:`CALM_SHAPING` is the rule-based shaping of the CALM code: +1 for the key, +1 for the first unlock.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
from nle import nethack


CALM_SHAPING = {"pick up the key": 1.0, "unlock the door": 1.0}


def _cmap_glyphs(*cmap: int) -> tuple[int, ...]:
    return tuple(nethack.GLYPH_CMAP_OFF + c for c in cmap)


#: Glyph classes the oracles watch: the glyph ids of each.
GLYPH_CLASSES: dict[str, frozenset[int]] = {
    "closed door": frozenset(_cmap_glyphs(15, 16)),
    "open door": frozenset(_cmap_glyphs(12, 13, 14)),  # doorway (also a broken door), open door (both ways)
    "stairs down": frozenset(_cmap_glyphs(24)),
    "corridor": frozenset(_cmap_glyphs(21, 22)),
    "water": frozenset(_cmap_glyphs(32, 41)),
    "floor": frozenset(_cmap_glyphs(19, 20)),
}
#: Classes with few squares on a map: found by a byte search instead of whole-map array compares.
SPARSE_CLASSES = frozenset({"closed door", "open door", "stairs down"})


class Frame:
    """What the oracles may look at after an action (or at reset)."""

    __slots__ = ("obs", "messages", "over", "success", "_squares", "_glyph_bytes", "_agent")

    def __init__(
        self,
        obs: dict[str, np.ndarray],
        messages: list[str] | None = None,
        over: bool = False,
        success: bool = False,
    ):
        self.obs = obs
        """The engine's arrays; only meaningful while the game is not ``over``."""
        self.messages = [] if messages is None else messages
        self.over = over
        self.success = success
        self._squares: dict[str, list[int]] = {}
        self._glyph_bytes: bytes | None = None
        self._agent: int | None = None

    @property
    def agent(self) -> int:
        """Flat index (``y * width + x``) of the agent's square."""
        if self._agent is None:
            blstats = self.obs["blstats"]
            width = self.obs["glyphs"].shape[1]
            self._agent = blstats.item(nethack.NLE_BL_Y) * width + blstats.item(nethack.NLE_BL_X)
        return self._agent

    def squares(self, glyph_class: str) -> list[int]:
        """Flat indices of the squares showing ``glyph_class``, ascending (computed once per frame)."""
        found = self._squares.get(glyph_class)
        if found is None:
            glyphs = self.obs["glyphs"]
            if glyph_class in SPARSE_CLASSES and glyphs.dtype == _GLYPH_DTYPE:
                found = self._search(GLYPH_CLASSES[glyph_class])
            else:
                first, *others = GLYPH_CLASSES[glyph_class]
                mask = glyphs == first  # a few compares beat a table lookup over the whole map
                for glyph in others:
                    mask |= glyphs == glyph
                found = mask.ravel().nonzero()[0].tolist() if mask.any() else []
            self._squares[glyph_class] = found
        return found

    def _search(self, members: frozenset[int]) -> list[int]:
        """Squares holding one of ``members``, found with ``bytes.find`` (``memchr``) on the raw map.

        The map is little-endian int16: a glyph's low byte is searched for (the common glyphs --
        stone, walls, floor -- have other low bytes, so hits are few) and the high byte checked.
        """
        data = self._glyph_bytes
        if data is None:
            data = self._glyph_bytes = self.obs["glyphs"].tobytes()
        found = []
        for glyph in members:
            low, high = glyph & 0xFF, glyph >> 8
            at = data.find(low)
            while at >= 0:
                if not at & 1 and data[at + 1] == high:
                    found.append(at >> 1)
                at = data.find(low, at + 1)
        if len(members) > 1:
            found.sort()
        return found

    def shows(self, index: int, glyph_class: str) -> bool:
        return self.obs["glyphs"].item(index) in GLYPH_CLASSES[glyph_class]

    def said(self, pattern: re.Pattern[str]) -> bool:
        return any(pattern.search(message) for message in self.messages)


_GLYPH_DTYPE = np.dtype("<i2")


class Oracle:
    """One subgoal check. ``start`` sees the first frame; ``check`` every later one."""

    name = ""

    def start(self, frame: Frame) -> bool:
        return self.check(frame)

    def check(self, frame: Frame) -> bool:
        raise NotImplementedError


class KeyPickedUp(Oracle):
    name = "pick up the key"
    _KEY = re.compile(rb"\bkeys?\b", re.IGNORECASE)

    def start(self, frame: Frame) -> bool:
        self._inventory = b""
        return self.check(frame)

    def check(self, frame: Frame) -> bool:
        if frame.over:
            return False
        inventory = frame.obs["inv_strs"].tobytes()
        if inventory == self._inventory:
            return False  # unchanged since the last check, which said no
        self._inventory = inventory
        return bool(self._KEY.search(inventory))


class _Watch(Oracle):
    """Remembers every square ever seen as ``watched``; fires once one of them shows ``became``."""

    watched = became = ""
    agent_counts = False
    """Whether the agent standing on a watched square counts (it can stand in an open door)."""

    def start(self, frame: Frame) -> bool:
        self.seen: set[int] = set()
        return self.check(frame)

    def _changed(self, frame: Frame) -> bool:
        if frame.over:
            return False
        self.seen.update(frame.squares(self.watched))
        if not self.seen:
            return False
        if self.agent_counts and frame.agent in self.seen:
            return True
        return any(frame.shows(index, self.became) for index in self.seen)


class DoorOpened(_Watch):
    name = "open the door"
    watched, became, agent_counts = "closed door", "open door", True

    def check(self, frame: Frame) -> bool:
        return self._changed(frame)


class DoorUnlocked(_Watch):
    name = "unlock the door"
    watched, became, agent_counts = "closed door", "open door", True
    _UNLOCKED = re.compile(r"You succeed in (?:unlocking the door|picking the lock)")

    def check(self, frame: Frame) -> bool:
        return frame.said(self._UNLOCKED) or self._changed(frame)


class BoulderInWater(_Watch):
    name = "push a boulder into the water"
    watched, became = "water", "floor"

    def check(self, frame: Frame) -> bool:
        return self._changed(frame)


class StairsFound(Oracle):
    name = "find the stairs"

    def check(self, frame: Frame) -> bool:
        return frame.success or (not frame.over and bool(frame.squares("stairs down")))


class StairsReached(Oracle):
    name = "reach the stairs"

    def check(self, frame: Frame) -> bool:
        return frame.success


class EnterCorridor(Oracle):
    name = "enter a corridor"

    def start(self, frame: Frame) -> bool:
        self._before = frame.obs["glyphs"].copy()
        return False

    def check(self, frame: Frame) -> bool:
        if frame.over:
            return False
        glyphs = frame.obs["glyphs"]
        # The square was corridor at the last check, before the agent stood on it and hid it.
        entered = self._before.item(frame.agent) in GLYPH_CLASSES["corridor"]
        np.copyto(self._before, glyphs)
        return entered


class KillMonster(Oracle):
    name = "kill a monster"
    _KILLED = re.compile(r"\bYou (?:kill|destroy) ")

    def check(self, frame: Frame) -> bool:
        return frame.said(self._KILLED)


_STAIRS = (StairsFound, StairsReached)
FAMILY_ORACLES: dict[str, tuple[Callable[[], Oracle], ...]] = {
    "KeyRoom": (KeyPickedUp, DoorUnlocked, DoorOpened, *_STAIRS),
    "Room": _STAIRS,
    "Corridor": (EnterCorridor, *_STAIRS),
    "MazeWalk": _STAIRS,
    "River": (BoulderInWater, *_STAIRS),
    "generic": _STAIRS,
}


def oracle_classes() -> dict[str, type[Oracle]]:
    """Every oracle, by subgoal name."""
    return {cls.name: cls for cls in _all_subclasses(Oracle) if cls.name}


def _all_subclasses(cls: type) -> list[type]:
    found = []
    for sub in cls.__subclasses__():
        found += [sub, *_all_subclasses(sub)]
    return found


def build_oracles(
    family: str, env_id: str, *, stairs_goal: bool, names: list[str] | None = None
) -> list[Oracle]:
    """Fresh oracles for one env: the ``names`` given, or the family's (see module docstring).

    Tasks whose goal is not the stairs get none of the stairs checks by default.
    """
    if names is not None:
        classes = oracle_classes()
        return [classes[name]() for name in names]
    makers = list(FAMILY_ORACLES[family])
    if any(word in env_id for word in ("Monster", "Ultimate")):
        makers.insert(0, KillMonster)
    oracles = [make() for make in makers]
    if not stairs_goal:
        oracles = [o for o in oracles if not isinstance(o, (StairsFound, StairsReached))]
    return oracles


class SubgoalTracker:
    """Runs the oracles over an episode and reports each subgoal once, when it is first achieved."""

    def __init__(self, oracles: list[Oracle]):
        self.oracles = oracles
        self.active: list[Oracle] = []
        self.achieved: set[str] = set()
        self.names: list[str] = []
        """The subgoals of this episode (the active oracles' names)."""
        self._pending: list[Oracle] = []

    def start(self, frame: Frame) -> None:
        self.active = [oracle for oracle in self.oracles if not oracle.start(frame)]
        self.names = [oracle.name for oracle in self.active]
        self._pending = list(self.active)
        self.achieved = set()

    def update(self, frame: Frame) -> tuple[str, ...]:
        fired = [oracle for oracle in self._pending if oracle.check(frame)]
        if not fired:
            return ()
        new = tuple(oracle.name for oracle in fired)
        self.achieved.update(new)
        self._pending = [oracle for oracle in self._pending if oracle.name not in self.achieved]
        return new

    @property
    def progress(self) -> float:
        return len(self.achieved) / len(self.active) if self.active else 0.0


def shaping_reward(achieved: tuple[str, ...], weights: dict[str, float]) -> float:
    """Rule-based shaping: the weight of every subgoal achieved by this transition."""
    return float(sum(weights.get(name, 0.0) for name in achieved))
