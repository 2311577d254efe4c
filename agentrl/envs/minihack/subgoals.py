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

    __slots__ = ("_agent", "_glyph_bytes", "_inventory", "_squares", "map_changed", "messages", "obs", "over", "success")

    def __init__(
        self,
        obs: dict[str, np.ndarray],
        messages: list[str] | None = None,
        over: bool = False,
        success: bool = False,
        agent: int = -1,
    ):
        self.obs = obs
        """The engine's arrays; only meaningful while the game is not ``over``."""
        self.messages = [] if messages is None else messages
        self.over = over
        self.success = success
        self.map_changed = True
        """False when the glyph map and the agent's position equal those of the frame the tracker
        passed before (set by :class:`SubgoalTracker` for oracles whose ``inputs`` hold ``"map"``)."""
        self._squares: dict[str, list[int]] = {}
        self._glyph_bytes: bytes | None = None
        self._inventory: bytes | None = None
        self._agent = agent
        """The agent's flat index when the caller already knows it; -1: read it from ``blstats``."""

    @property
    def agent(self) -> int:
        """Flat index (``y * width + x``) of the agent's square."""
        if self._agent < 0:
            blstats = self.obs["blstats"]
            width = self.obs["glyphs"].shape[1]
            self._agent = blstats.item(nethack.NLE_BL_Y) * width + blstats.item(nethack.NLE_BL_X)
        return self._agent

    @property
    def glyph_bytes(self) -> bytes:
        """The raw glyph map (one copy per frame, shared by the checks)."""
        if self._glyph_bytes is None:
            self._glyph_bytes = self.obs["glyphs"].tobytes()
        return self._glyph_bytes

    @property
    def inventory(self) -> bytes:
        """The raw inventory text (``inv_strs``)."""
        if self._inventory is None:
            self._inventory = self.obs["inv_strs"].tobytes()
        return self._inventory

    def squares(self, glyph_class: str) -> list[int]:
        """Flat indices of the squares showing ``glyph_class``, ascending (computed once per frame)."""
        found = self._squares.get(glyph_class)
        if found is None:
            glyphs = self.obs["glyphs"]
            found = self._squares[glyph_class] = find_squares(glyphs, glyph_class, self.glyph_bytes)
        return found

    def said(self, pattern: re.Pattern[str], literal: str = "") -> bool:
        """A message of this frame matches ``pattern``; ``literal`` is text every match contains
        (messages without it skip the regular expression engine)."""
        for message in self.messages:
            if literal in message and pattern.search(message):
                return True
        return False


_GLYPH_DTYPE = np.dtype("<i2")
#: ``(low byte, high byte)`` of each glyph of the sparse classes, for :func:`_search`.
_SPARSE_SEARCH = {
    name: tuple((glyph & 0xFF, glyph >> 8) for glyph in sorted(GLYPH_CLASSES[name])) for name in SPARSE_CLASSES
}
# A glyph's low byte must not be a possible high byte (<= MAX_GLYPH >> 8), or hits at odd offsets
# could pair it with the next square's low byte; it also keeps searches off the common glyphs' bytes.
assert all(low > nethack.MAX_GLYPH >> 8 for pairs in _SPARSE_SEARCH.values() for low, _ in pairs)


def find_squares(glyphs: np.ndarray, glyph_class: str, raw: bytes | None = None) -> list[int]:
    """Flat indices of the squares of ``glyphs`` showing ``glyph_class`` (a :data:`GLYPH_CLASSES`
    name), ascending; ``raw`` is ``glyphs.tobytes()`` when the caller has it."""
    pairs = _SPARSE_SEARCH.get(glyph_class)
    if pairs is not None and (glyphs.dtype is _GLYPH_DTYPE or glyphs.dtype == _GLYPH_DTYPE):
        return _search(glyphs.tobytes() if raw is None else raw, pairs)
    first, *others = GLYPH_CLASSES[glyph_class]
    mask = glyphs == first  # a few compares beat a table lookup over the whole map
    for glyph in others:
        mask |= glyphs == glyph
    return mask.ravel().nonzero()[0].tolist() if mask.any() else []


def _search(data: bytes, pairs: tuple[tuple[int, int], ...]) -> list[int]:
    """Squares of a little-endian int16 map (raw ``data``) holding one of the glyphs ``pairs``.

    ``bytes.find`` of one byte is a ``memchr``: searching for a glyph's low byte and checking the
    high byte costs a fraction of a whole-map array compare when the glyph is rare.
    """
    found = []
    for low, high in pairs:
        at = data.find(low)
        while at >= 0:
            if not at & 1 and data[at + 1] == high:
                found.append(at >> 1)
            at = data.find(low, at + 1)
    if len(pairs) > 1 and len(found) > 1:
        found.sort()
    return found


class Oracle:
    """One subgoal check. ``start`` sees the first frame; ``check`` every later one.

    ``inputs`` says what ``check`` reads besides its own state and the end flags: a subset of
    ``{"map", "inventory", "messages"}`` (the map includes the agent's position), or ``None`` for
    "anything". An oracle that names its inputs promises that a frame which is not the game's end,
    in which none of them changed since the previous frame (for messages: there are none), cannot
    make it fire, and that such a frame would leave its state as it is. The tracker then does not
    call it for such frames, and tells map readers whether the map changed (``frame.map_changed``).
    """

    name = ""
    inputs: frozenset[str] | None = None

    def start(self, frame: Frame) -> bool:
        return self.check(frame)

    def check(self, frame: Frame) -> bool:
        raise NotImplementedError


class KeyPickedUp(Oracle):
    name = "pick up the key"
    inputs = frozenset({"inventory"})
    _KEY = re.compile(rb"\bkeys?\b", re.IGNORECASE)
    _KEY_HINTS = (b"ey", b"eY", b"Ey", b"EY")
    """Every case-insensitive "key" holds one of these: byte searches that spare the regex's slow
    case-folding scan of the inventory's 4 KB on inventories without a key (the usual case)."""

    def start(self, frame: Frame) -> bool:
        self._inventory = b""
        return self.check(frame)

    def check(self, frame: Frame) -> bool:
        if frame.over:
            return False
        inventory = frame.inventory
        if inventory == self._inventory:
            return False  # unchanged since the last check, which said no
        self._inventory = inventory
        return any(hint in inventory for hint in self._KEY_HINTS) and bool(self._KEY.search(inventory))


class _Watch(Oracle):
    """Remembers every square ever seen as ``watched``; fires once one of them shows ``became``."""

    watched = became = ""
    agent_counts = False
    """Whether the agent standing on a watched square counts (it can stand in an open door)."""
    inputs = frozenset({"map"})

    def start(self, frame: Frame) -> bool:
        self.seen: set[int] = set()
        return self.check(frame)

    def _changed(self, frame: Frame) -> bool:
        if frame.over or not frame.map_changed:
            return False
        seen = self.seen
        squares = frame.squares(self.watched)
        if squares:
            seen.update(squares)
        elif not seen:
            return False
        if self.agent_counts and frame.agent in seen:
            return True
        item, became = frame.obs["glyphs"].item, GLYPH_CLASSES[self.became]
        for index in seen:
            if item(index) in became:
                return True
        return False


class DoorOpened(_Watch):
    name = "open the door"
    watched, became, agent_counts = "closed door", "open door", True

    def check(self, frame: Frame) -> bool:
        return self._changed(frame)


class DoorUnlocked(_Watch):
    name = "unlock the door"
    watched, became, agent_counts = "closed door", "open door", True
    inputs = frozenset({"map", "messages"})
    _UNLOCKED = re.compile(r"You succeed in (?:unlocking the door|picking the lock)")

    def check(self, frame: Frame) -> bool:
        return frame.said(self._UNLOCKED, "You succeed in ") or self._changed(frame)


class BoulderInWater(_Watch):
    name = "push a boulder into the water"
    watched, became = "water", "floor"

    def check(self, frame: Frame) -> bool:
        return self._changed(frame)


class StairsFound(Oracle):
    name = "find the stairs"
    inputs = frozenset({"map"})

    def check(self, frame: Frame) -> bool:
        return frame.success or (frame.map_changed and not frame.over and bool(frame.squares("stairs down")))


class StairsReached(Oracle):
    name = "reach the stairs"
    inputs: frozenset[str] = frozenset()  # only the game's end can make it fire

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
        self._before[...] = glyphs
        return entered


class KillMonster(Oracle):
    name = "kill a monster"
    inputs = frozenset({"messages"})
    _KILLED = re.compile(r"\bYou (?:kill|destroy) ")

    def check(self, frame: Frame) -> bool:
        return frame.said(self._KILLED, "You ")


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


_MAP, _INVENTORY, _MESSAGES, _ALWAYS = 1, 2, 4, 8
_INPUT_BITS = {"map": _MAP, "inventory": _INVENTORY, "messages": _MESSAGES}


def _input_bits(oracle: Oracle) -> int:
    if oracle.inputs is None:
        return _ALWAYS
    return sum(_INPUT_BITS[name] for name in oracle.inputs)


class SubgoalTracker:
    """Runs the oracles over an episode and reports each subgoal once, when it is first achieved.

    Each frame, it works out which oracle inputs changed (one compare of the raw map and of the
    inventory text) and checks only the oracles that read one of them (see :class:`Oracle`),
    and every oracle on the game's last frame.
    """

    def __init__(self, oracles: list[Oracle]):
        unknown = [o.inputs - _INPUT_BITS.keys() for o in oracles if o.inputs is not None]
        if any(unknown):
            raise ValueError(f"unknown oracle inputs {sorted(set().union(*unknown))}; known: {sorted(_INPUT_BITS)}")
        self.oracles = oracles
        self.active: list[Oracle] = []
        self.achieved: set[str] = set()
        self.names: list[str] = []
        """The subgoals of this episode (the active oracles' names)."""
        self._pending: list[tuple[int, Oracle]] = []
        self._reads = 0
        self.progress = 0.0
        """Fraction of this episode's subgoals achieved so far."""
        self._last_glyphs: bytes | None = None
        self._last_agent = -1
        self._last_inventory: bytes | None = None

    def start(self, frame: Frame) -> None:
        self.active = [oracle for oracle in self.oracles if not oracle.start(frame)]
        self.names = [oracle.name for oracle in self.active]
        self.achieved = set()
        self.progress = 0.0
        self._set_pending(self.active)
        self._last_glyphs, self._last_agent, self._last_inventory = None, -1, None
        if not frame.over:
            self._last_glyphs, self._last_agent = frame.glyph_bytes, frame.agent
            self._last_inventory = frame.inventory

    def all_names(self) -> list[str]:
        """Every subgoal the tracker checks for (an episode's list leaves out those true at its start)."""
        return [oracle.name for oracle in self.oracles]

    @property
    def watching(self) -> bool:
        """Whether a pending oracle reads frames before the game's end (else ``update`` may be
        called only on the last frame)."""
        return self._reads != 0

    def update(self, frame: Frame) -> tuple[str, ...]:
        if not self._pending:
            return ()
        if frame.over or frame.success:
            fired = [oracle for _, oracle in self._pending if oracle.check(frame)]
        else:
            changed = self._changed_inputs(frame)
            fired = [oracle for bits, oracle in self._pending if bits & changed and oracle.check(frame)]
        if not fired:
            return ()
        new = tuple(oracle.name for oracle in fired)
        self.achieved.update(new)
        self.progress = len(self.achieved) / len(self.active)
        self._set_pending([oracle for _, oracle in self._pending if oracle.name not in self.achieved])
        return new

    def _changed_inputs(self, frame: Frame) -> int:
        """Bits of the inputs that changed since the previous frame (``_ALWAYS`` always set)."""
        changed = _ALWAYS | _MESSAGES if frame.messages else _ALWAYS
        reads = self._reads
        if reads & _MAP:
            glyphs, agent = frame.glyph_bytes, frame.agent
            if agent != self._last_agent or glyphs != self._last_glyphs:
                changed |= _MAP
                self._last_glyphs, self._last_agent = glyphs, agent
            else:
                frame.map_changed = False
        if reads & _INVENTORY:
            inventory = frame.inventory
            if inventory != self._last_inventory:
                changed |= _INVENTORY
                self._last_inventory = inventory
        return changed

    def _set_pending(self, pending: list[Oracle]) -> None:
        self._pending = [(_input_bits(oracle), oracle) for oracle in pending]
        self._reads = 0
        for bits, _ in self._pending:
            self._reads |= bits


def shaping_reward(achieved: tuple[str, ...], weights: dict[str, float]) -> float:
    """Rule-based shaping: the weight of every subgoal achieved by this transition."""
    return float(sum(weights.get(name, 0.0) for name in achieved))
