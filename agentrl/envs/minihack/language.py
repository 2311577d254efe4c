"""The language observation: the NetHack screen as text an LLM agent can act on.

Sections, in order (see ``docs/minihack.md`` for a full example), after the turn's game messages
(``Message: ...``, which come with the turn rather than from :meth:`LanguageRenderer.render`)::

    Message: You see here a key named The Master Key of Thievery.
    Visible:
    - closed door: 1 north, 3 west (3 moves)
    - staircase up: 1 northeast (adjacent)
    Around you: floor of a room (north, east, south, west, ...); wall (northwest)
    Status: HP 12/12, Pw 2/2, AC 7, XL 1 (0 exp), Dlvl 1, Gold 0, Turn 3, Not hungry, ...
    Inventory:
    a - a +0 short sword (weapon in hand)

* **Message**: every game message the last action produced (``--More--`` pages included), or ``(none)``.
* **Visible**: everything on the map that is not wall, floor, corridor or unexplored rock -- objects,
  monsters, doors, stairs, water, traps... -- named as NetHack's own ``;`` (farlook) names them, with
  the offset from the agent (``north``/``south`` first, then ``east``/``west``) and, when it is not a
  straight line, the number of moves (diagonal moves allowed). Identical things are grouped: the
  nearest few are listed, then ``(+N more)``.
* **Around you**: the eight neighbouring squares, grouped by what they are (``unexplored or rock``:
  a blank square, never seen or solid rock).
* **Status** and **Inventory**: NetHack's bottom lines and inventory.
* Optional **Map** (a character crop centred on the agent) and **Screen** (the 24x80 terminal).
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from nle import nethack

from agentrl.envs.minihack.actions import COMPASS_OFFSETS
from agentrl.envs.minihack.engine import decode
from agentrl.envs.minihack.mapdiff import MapChanges

#: cmap symbols that are scenery, not things: stone, walls, room floor, dark floor, corridors.
BORING_CMAP = frozenset(range(12)) | {19, 20, 21, 22}
HUNGER = ("Satiated", "Not hungry", "Hungry", "Weak", "Fainting", "Fainted", "Starved")
ENCUMBRANCE = ("", "Burdened", "Stressed", "Strained", "Overtaxed", "Overloaded")
ALIGNMENT = {-1: "Chaotic", 0: "Neutral", 1: "Lawful"}
CONDITIONS = (
    ("BL_MASK_STONE", "Stone"),
    ("BL_MASK_SLIME", "Slime"),
    ("BL_MASK_STRNGL", "Strangled"),
    ("BL_MASK_FOODPOIS", "FoodPois"),
    ("BL_MASK_TERMILL", "TermIll"),
    ("BL_MASK_BLIND", "Blind"),
    ("BL_MASK_DEAF", "Deaf"),
    ("BL_MASK_STUN", "Stun"),
    ("BL_MASK_CONF", "Conf"),
    ("BL_MASK_HALLU", "Hallu"),
    ("BL_MASK_LEV", "Lev"),
    ("BL_MASK_FLY", "Fly"),
    ("BL_MASK_RIDE", "Ride"),
)
_NEIGHBOUR_ORDER = ("north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest")
_NEIGHBOURS = tuple((name, *COMPASS_OFFSETS[name]) for name in _NEIGHBOUR_ORDER)


@lru_cache(maxsize=1)
def notable_glyphs() -> np.ndarray:
    """``table[glyph]`` is True for glyphs worth naming (everything but scenery)."""
    table = np.ones(nethack.MAX_GLYPH + 1, dtype=bool)
    for cmap in BORING_CMAP:
        table[nethack.GLYPH_CMAP_OFF + cmap] = False
    table[nethack.NO_GLYPH] = False
    return table


#: Map symbols whose farlook name depends on the square (doorway/broken door, the altar's
#: alignment, cloud kinds); these names are read from NLE's per-square screen descriptions.
SQUARE_DEPENDENT_CMAP = frozenset({12, 27, 40})
BLANK = "unexplored or rock"
"""Name of a blank square: never seen, or solid rock (NetHack shows both as blank)."""


@lru_cache(maxsize=1)
def glyph_names() -> dict[int, str]:
    """Names of the map-symbol glyphs whose name is fixed, as NetHack's farlook gives them.

    Objects, monsters and :data:`SQUARE_DEPENDENT_CMAP` squares are not here: their names (a key
    "named The Master Key of Thievery", a "tame kitten", a "broken door") are read per square.
    """
    names = {
        nethack.GLYPH_CMAP_OFF + c: nethack.symdef.from_idx(c).explanation
        for c in range(nethack.MAXPCHARS)
        if c not in SQUARE_DEPENDENT_CMAP and nethack.symdef.from_idx(c).explanation
    }
    names[nethack.GLYPH_CMAP_OFF] = BLANK
    names[nethack.NO_GLYPH] = BLANK
    return names


def offset_phrase(dx: int, dy: int) -> str:
    """``2 north, 3 east (3 moves)``, ``4 west``, ``1 southwest (adjacent)``; y grows southwards."""
    vertical = "north" if dy < 0 else "south"
    horizontal = "east" if dx > 0 else "west"
    adx, ady = abs(dx), abs(dy)
    if adx == 0 and ady == 0:
        return "here"
    if adx == 0 or ady == 0 or adx == ady:
        name = (vertical if ady else "") + (horizontal if adx else "")
        steps = max(adx, ady)
        return f"{steps} {name}" + (" (adjacent)" if steps == 1 else "")
    return f"{ady} {vertical}, {adx} {horizontal} ({max(adx, ady)} moves)"


def describe_at(obs: dict[str, np.ndarray], x: int, y: int) -> str:
    """What NetHack calls the square (x, y)."""
    name = glyph_names().get(int(obs["glyphs"][y, x]))
    if name is not None:
        return name
    return obs["screen_descriptions"][y, x].tobytes().partition(b"\0")[0].decode("latin-1") or BLANK


def _agent(obs: dict[str, np.ndarray]) -> tuple[int, int]:
    blstats = obs["blstats"]
    return int(blstats[nethack.NLE_BL_X]), int(blstats[nethack.NLE_BL_Y])


def visible_things(obs: dict[str, np.ndarray], max_per_kind: int = 3) -> list[str]:
    """The ``Visible`` lines: notable squares grouped by name, nearest first."""
    glyphs = obs["glyphs"]
    width = glyphs.shape[1]
    ax, ay = _agent(obs)
    groups: dict[str, list[tuple[int, int, int]]] = {}
    for index in np.flatnonzero(np.take(notable_glyphs(), glyphs)).tolist():
        y, x = divmod(index, width)
        if x == ax and y == ay:
            continue
        dx, dy = x - ax, y - ay
        groups.setdefault(describe_at(obs, x, y), []).append((max(abs(dx), abs(dy)), dx, dy))
    lines = []
    for name, places in sorted(groups.items(), key=lambda item: (min(item[1]), item[0])):
        places.sort()
        shown = "; ".join(offset_phrase(dx, dy) for _, dx, dy in places[:max_per_kind])
        more = f" (+{len(places) - max_per_kind} more)" if len(places) > max_per_kind else ""
        lines.append(f"- {name}: {shown}{more}")
    return lines


def around(obs: dict[str, np.ndarray]) -> str:
    """The eight neighbours, grouped by name: ``wall (north, northeast); doorway (west)``."""
    ax, ay = _agent(obs)
    height, width = obs["glyphs"].shape
    groups: dict[str, list[str]] = {}
    for name, dx, dy in _NEIGHBOURS:
        x, y = ax + dx, ay + dy
        if 0 <= x < width and 0 <= y < height:
            groups.setdefault(describe_at(obs, x, y), []).append(name)
    return "; ".join(f"{what} ({', '.join(where)})" for what, where in groups.items())


def status_line(blstats: np.ndarray) -> str:
    parts = _status_parts(blstats.tolist())
    return ", ".join(p for p in parts if p)


_TURN_PART = 6
"""Index of ``Turn N`` in :func:`_status_parts`: the one part that changes on nearly every action."""


def _status_parts(b: list[int]) -> list[str]:
    n = nethack
    parts = [
        f"HP {b[n.NLE_BL_HP]}/{b[n.NLE_BL_HPMAX]}",
        f"Pw {b[n.NLE_BL_ENE]}/{b[n.NLE_BL_ENEMAX]}",
        f"AC {b[n.NLE_BL_AC]}",
        f"XL {b[n.NLE_BL_XP]} ({b[n.NLE_BL_EXP]} exp)",
        f"Dlvl {b[n.NLE_BL_DEPTH]}",
        f"Gold {b[n.NLE_BL_GOLD]}",
        f"Turn {b[n.NLE_BL_TIME]}",
        HUNGER[b[n.NLE_BL_HUNGER]] if 0 <= b[n.NLE_BL_HUNGER] < len(HUNGER) else "",
        ENCUMBRANCE[b[n.NLE_BL_CAP]] if 0 <= b[n.NLE_BL_CAP] < len(ENCUMBRANCE) else "",
        (
            f"St {_strength(b[n.NLE_BL_STR125])}, Dx {b[n.NLE_BL_DEX]}, Co {b[n.NLE_BL_CON]}, "
            f"In {b[n.NLE_BL_INT]}, Wi {b[n.NLE_BL_WIS]}, Ch {b[n.NLE_BL_CHA]}"
        ),
        ALIGNMENT.get(b[n.NLE_BL_ALIGN], ""),
    ]
    parts += [label for mask, label in CONDITIONS if b[n.NLE_BL_CONDITION] & getattr(n, mask)]
    return parts


def _strength(value: int) -> str:
    """NetHack's strength display: 3..18, 18/01..18/99, 18/**, then 19..25."""
    if value <= 18:
        return str(value)
    if value < 118:
        return f"18/{value - 18:02d}"
    return "18/**" if value == 118 else str(value - 100)


def crop_around(array: np.ndarray, x: int, y: int, size: int, fill: int) -> np.ndarray:
    """The ``size`` x ``size`` window of ``array`` centred on (x, y); off-map cells hold ``fill``."""
    half = size // 2
    out = np.full((size, size), fill, dtype=array.dtype)
    height, width = array.shape
    top, left = y - half, x - half
    y0, y1 = max(top, 0), min(top + size, height)
    x0, x1 = max(left, 0), min(left + size, width)
    if y0 < y1 and x0 < x1:
        out[y0 - top : y1 - top, x0 - left : x1 - left] = array[y0:y1, x0:x1]
    return out


class Cropper:
    """:func:`crop_around` for a stream of same-shaped maps, through one reused padded buffer."""

    def __init__(self, shape: tuple[int, int], size: int, fill: int, dtype: np.dtype):
        self.size = size
        self.half = size // 2
        self.padded = np.full((shape[0] + 2 * self.half, shape[1] + 2 * self.half), fill, dtype=dtype)
        self.inner = self.padded[self.half : self.half + shape[0], self.half : self.half + shape[1]]
        self._y_end, self._x_end = shape[0] - self.half, shape[1] - self.half

    def __call__(self, array: np.ndarray, x: int, y: int) -> np.ndarray:
        half = self.half
        if half <= y < self._y_end and half <= x < self._x_end:
            return array[y - half : y + half + 1, x - half : x + half + 1].copy()  # no padding needed
        self.inner[...] = array
        return self.padded[y : y + self.size, x : x + self.size].copy()


def map_crop(chars: np.ndarray, x: int, y: int, size: int) -> list[str]:
    """``size`` rows of ``size`` characters centred on (x, y); off-map squares are blank."""
    return [row.tobytes().decode("latin-1") for row in crop_around(chars, x, y, size, ord(" "))]


class LanguageRenderer:
    """Renders observations as text, keeping what it derives from the map between calls.

    The output is exactly that of the stateless functions above (:func:`visible_things`,
    :func:`around`, :func:`status_line`); only the work differs:

    * ``Visible``: the notable squares are kept from one call to the next and updated from the
      squares whose glyph changed (:class:`~agentrl.envs.minihack.mapdiff.MapChanges`). Names that
      depend on the square (objects, monsters) are read afresh from ``screen_descriptions`` on every
      call, as a square's name can change while its glyph does not (a monster turns hostile). The
      lines are remembered for the current scene (the notable squares other than the agent's) by
      the agent's square and those names, so a walk through an unchanged room rebuilds them only
      on squares it has not stood on; the scene's lines are forgotten when a notable square other
      than the agent's (before or after the move) changes.
    * ``Around you``: the neighbours' fixed names are planned once per 3x3 glyph block; only the
      square-dependent names are read per call.
    * ``Status``: cached by the bottom-line stats other than position and turn counter.
    * ``Inventory``: cached by the inventory text.
    """

    _CACHE_LIMIT = 4096
    """Entries a cache may hold before it is emptied (bounds memory on long, varied games)."""

    def __init__(self, *, max_per_kind: int = 3, map_size: int = 0, show_tty: bool = False):
        self.max_per_kind = max_per_kind
        self.map_size = map_size
        self.show_tty = show_tty
        self._inventory_key: bytes | None = None
        self._inventory_text = ""
        self._changes = MapChanges()
        self._notable: dict[int, tuple[int, int, str | None]] = {}
        """Notable squares: flat index -> (x, y, fixed name), the name ``None`` for squares named per
        square (objects, monsters...)."""
        self._per_square: dict[int, None] = {}
        """The squares of ``_notable`` named per square, in the same order."""
        self._fixed_names = glyph_names()
        self._boring = _boring_glyphs()
        self._scene_lines: dict[tuple[int, tuple[str, ...]], list[str]] = {}
        """``Visible`` lines for the current scene (the notable squares other than the agent's), by
        the agent's square and the per-square names; emptied whenever the scene changes."""
        self._scene_agent = -1
        """The agent's square when the scene was last updated."""
        self._descriptions: np.ndarray | None = None
        self._description_rows = np.empty((0, 0), dtype=np.uint8)
        self._around: dict[bytes, str | tuple[tuple[int, str | None], ...]] = {}
        self._around_named: dict[tuple[str, ...], str] = {}
        self._status: dict[bytes, tuple[str, str]] = {}

    def render(self, obs: dict[str, np.ndarray]) -> str:
        """The state sections: ``Visible``, ``Around you``, ``Status``, ``Inventory`` (+ map, screen)."""
        ax, ay = obs["blstats"].item(nethack.NLE_BL_X), obs["blstats"].item(nethack.NLE_BL_Y)
        visible = self._visible(obs, ax, ay)
        lines = [
            "Visible:" if visible else "Visible: nothing of note",
            *visible,
            f"Around you: {self.around(obs, ax, ay)}",
            f"Status: {self.status(obs['blstats'])}",
            self.inventory(obs),
        ]
        if self.map_size:
            lines.append("Map (you are the @ in the centre; north is up):")
            lines.extend(map_crop(obs["chars"], ax, ay, self.map_size))
        if self.show_tty:
            lines.append("Screen:")
            lines.extend(tty_lines(obs["tty_chars"]))
        return "\n".join(lines)

    # ------------------------------------------------------------------ Visible
    def visible(self, obs: dict[str, np.ndarray], ax: int, ay: int) -> list[str]:
        """:func:`visible_things` for the agent at (ax, ay)."""
        return list(self._visible(obs, ax, ay))

    def _visible(self, obs: dict[str, np.ndarray], ax: int, ay: int) -> list[str]:
        glyphs = obs["glyphs"]
        agent = ay * glyphs.shape[1] + ax
        self._update_notable(glyphs, agent)
        names: tuple[str, ...] = ()
        per_square = self._per_square
        if len(per_square) > 1 or (per_square and agent not in per_square):  # one is usually the agent
            rows = self._rows(obs)
            names = tuple([_describe(rows, i) for i in per_square if i != agent])
        key = (agent, names)
        lines = self._scene_lines.get(key)
        if lines is None:
            if len(self._scene_lines) >= self._CACHE_LIMIT:
                self._scene_lines.clear()
            lines = self._scene_lines[key] = self._visible_lines_for(ax, ay, agent, names)
        return lines

    def _visible_lines_for(self, ax: int, ay: int, agent: int, names: tuple[str, ...]) -> list[str]:
        groups: dict[str, list[tuple[int, int, int]]] = {}
        per_square = iter(names)
        for index, (x, y, name) in self._notable.items():
            if index != agent:
                dx, dy = x - ax, y - ay
                place = (max(abs(dx), abs(dy)), dx, dy)
                name = name or next(per_square)
                found = groups.get(name)
                if found is None:
                    groups[name] = [place]
                else:
                    found.append(place)
        # Groups ordered by their nearest square, then name (names are unique: no ties).
        order = []
        for name, places in groups.items():
            if len(places) > 1:
                places.sort()
            order.append((places[0], name, places))
        if len(order) > 1:
            order.sort()
        lines = []
        limit = self.max_per_kind
        for _, name, places in order:
            if len(places) == 1:  # the usual case, without the join
                _, dx, dy = places[0]
                lines.append(f"- {name}: {_offset_phrase(dx, dy)}")
                continue
            shown = "; ".join([_offset_phrase(dx, dy) for _, dx, dy in places[:limit]])
            more = f" (+{len(places) - limit} more)" if len(places) > limit else ""
            lines.append(f"- {name}: {shown}{more}")
        return lines

    def _update_notable(self, glyphs: np.ndarray, agent: int) -> None:
        """Bring the notable squares up to date with ``glyphs``, the agent on square ``agent``; forget
        the scene's lines when a notable square other than the agent's (before or now) changed."""
        changed = self._changes.since_last(glyphs)
        last_agent, self._scene_agent = self._scene_agent, agent
        notable = self._notable
        if changed == []:  # the usual case first: the map did not change
            if agent != last_agent and (last_agent in notable or agent in notable):
                # The agent moved unseen (no glyph changed): a notable square under its old or new
                # position joined or left the scene.
                self._scene_lines.clear()
            return
        width, fixed_names, boring = glyphs.shape[1], self._fixed_names, self._boring
        touched = changed is None
        if changed is None:
            changed = np.flatnonzero(np.take(notable_glyphs(), glyphs)).tolist()
            notable = self._notable = {}
            self._per_square = {}
        per_square = self._per_square
        for index in changed:
            before = notable.pop(index, None)
            if before is not None:
                if before[2] is None:
                    del per_square[index]
                touched = touched or index != last_agent
            glyph = glyphs.item(index)
            if glyph not in boring:
                y, x = divmod(index, width)
                name = fixed_names.get(glyph)
                notable[index] = (x, y, name)
                if name is None:
                    per_square[index] = None
                touched = touched or index != agent
        if not touched and agent != last_agent:
            # Unchanged squares under the agent's old and new position left or joined the scene.
            touched = (last_agent in notable and last_agent not in changed) or (
                agent in notable and agent not in changed
            )
        if touched:
            self._scene_lines.clear()

    def _rows(self, obs: dict[str, np.ndarray]) -> np.ndarray:
        """``screen_descriptions`` as one row of text per square (flat index ``y * width + x``): a view,
        kept while the observation holds the same array (the engine's buffers are rewritten in place)."""
        descriptions = obs["screen_descriptions"]
        if descriptions is not self._descriptions:
            self._description_rows = descriptions.reshape(-1, descriptions.shape[-1])
            self._descriptions = descriptions
        return self._description_rows

    # ------------------------------------------------------------------ Around you
    def around(self, obs: dict[str, np.ndarray], ax: int, ay: int) -> str:
        """:func:`around` for the agent at (ax, ay)."""
        glyphs = obs["glyphs"]
        height, width = glyphs.shape
        if not (0 < ax < width - 1 and 0 < ay < height - 1):
            return around(obs)  # a neighbour is off the map
        key = glyphs[ay - 1 : ay + 2, ax - 1 : ax + 2].tobytes()
        plan = self._around.get(key)
        if plan is None:
            if len(self._around) >= self._CACHE_LIMIT:
                self._around.clear()
            block = np.frombuffer(key, dtype=glyphs.dtype).reshape(3, 3).tolist()
            plan = self._around[key] = _around_plan(block, width)
        if type(plan) is str:
            return plan
        rows, here = self._rows(obs), ay * width + ax
        names = tuple([name or _describe(rows, here + offset) for offset, name in plan])
        text = self._around_named.get(names)
        if text is None:
            if len(self._around_named) >= self._CACHE_LIMIT:
                self._around_named.clear()
            text = self._around_named[names] = _group_neighbours(names)
        return text

    # ------------------------------------------------------------------ Status, Inventory
    def status(self, blstats: np.ndarray) -> str:
        """:func:`status_line`, rebuilt only when a stat other than position and turn changes."""
        raw = blstats.tobytes()
        size = blstats.itemsize
        key = raw[2 * size : _TIME * size] + raw[(_TIME + 1) * size :]
        parts = self._status.get(key)
        if parts is None:
            if len(self._status) >= self._CACHE_LIMIT:
                self._status.clear()
            every = _status_parts(blstats.tolist())
            before = ", ".join(p for p in every[:_TURN_PART] if p)
            after = ", ".join(p for p in every[_TURN_PART + 1 :] if p)
            parts = self._status[key] = (f"{before}, " if before else "", f", {after}" if after else "")
        return f"{parts[0]}Turn {blstats.item(_TIME)}{parts[1]}"

    def inventory(self, obs: dict[str, np.ndarray]) -> str:
        key = obs["inv_strs"].tobytes()
        if key != self._inventory_key:
            items = [
                f"{chr(letter)} - {decode(line)}"
                for letter, line in zip(obs["inv_letters"], obs["inv_strs"])
                if letter
            ]
            self._inventory_text = "\n".join(["Inventory:", *items]) if items else "Inventory: empty"
            self._inventory_key = key
        return self._inventory_text


_TIME = nethack.NLE_BL_TIME
# The status cache key drops blstats[0:2] (position): it relies on this layout.
assert (nethack.NLE_BL_X, nethack.NLE_BL_Y) == (0, 1) and _TIME > 1


_DESCRIPTIONS: dict[bytes, str] = {}


def _describe(rows: np.ndarray, index: int) -> str:
    """The screen description of square ``index`` (:func:`describe_at` for squares without a fixed name)."""
    raw = rows[index].tobytes()
    text = _DESCRIPTIONS.get(raw)
    if text is None:
        if len(_DESCRIPTIONS) >= LanguageRenderer._CACHE_LIMIT:
            _DESCRIPTIONS.clear()
        text = _DESCRIPTIONS[raw] = raw.partition(b"\0")[0].decode("latin-1") or BLANK
    return text


@lru_cache(maxsize=1)
def _boring_glyphs() -> frozenset[int]:
    """The glyphs :func:`notable_glyphs` marks as not notable, as a set for per-square checks."""
    return frozenset(np.flatnonzero(~notable_glyphs()).tolist())


_offset_phrase = lru_cache(maxsize=None)(offset_phrase)
"""``offset_phrase``, remembered (a map has at most 79 x 21 offsets each way)."""


def _around_plan(block: list[list[int]], width: int) -> str | tuple[tuple[int, str | None], ...]:
    """The ``Around you`` text of a 3x3 glyph block when every neighbour has a fixed name, else
    ``(flat offset, fixed name or None)`` per neighbour, in :data:`_NEIGHBOURS` order."""
    names = glyph_names()
    plan = tuple((dy * width + dx, names.get(block[1 + dy][1 + dx])) for _, dx, dy in _NEIGHBOURS)
    if all(name is not None for _, name in plan):
        return _group_neighbours(tuple(name for _, name in plan))  # type: ignore[arg-type]
    return plan


def _group_neighbours(names: tuple[str, ...]) -> str:
    """``around`` text from the eight neighbours' names, in :data:`_NEIGHBOURS` order."""
    groups: dict[str, list[str]] = {}
    for (where, _, _), name in zip(_NEIGHBOURS, names):
        groups.setdefault(name, []).append(where)
    return "; ".join(f"{what} ({', '.join(where)})" for what, where in groups.items())


def message_line(messages: list[str]) -> str:
    return f"Message: {' '.join(messages) if messages else '(none)'}"


def tty_lines(tty_chars: np.ndarray) -> list[str]:
    rows = [row.tobytes().decode("latin-1").rstrip() for row in tty_chars]
    while rows and not rows[-1]:
        rows.pop()
    return rows
