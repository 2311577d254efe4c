"""nle-language-wrapper's text observation, and BALROG's prompts built from it.

BALROG (github.com/balrog-ai/BALROG) shows LLM agents NetHack and MiniHack through the NetHack
Language Wrapper (nle-language-wrapper, github.com/ngoodger/nle-language-wrapper; MIT licence,
(c) 2021 Nikolaj Goodger; BALROG installs the same code as ``balrog-nle``). Its five texts come from
``NLELanguageObsv`` in the wrapper's ``src/main.cpp``; :class:`NLELanguage` re-implements each
rule in Python, because the package does not install (pip refuses it: one of its extras names a
direct-URL torch wheel) and it builds its own NetHack rather than the NLE in use:

* ``text_glyphs``: every notable thing on the map (monsters, objects, closed doors, stairs,
  fountains, ...) plus the walls, doorways and traps met along eight rays of up to nine squares from
  the agent, each as ``<name> <distance> <direction>`` (``tame little dog far westsouthwest``):
  distance ``adjacent`` (1), ``very near`` (2), ``near`` (3-5), ``far`` (6-19), ``very far``;
  direction the diagonal part last (``westsouthwest`` = mostly west). Lines run from far to near,
  then clockwise from north; equal things at the same distance share a line (``dark area adjacent
  east, south, and west``), and several in one direction use the plural (``fountains``).
* ``text_message``: the top screen line, or a whole menu or text window while one is shown.
* ``text_blstats``: the bottom-line stats, one per line (``Strength: 18/17``, ``Time: 3``, ...).
* ``text_inventory``: ``a: a +0 short sword (weapon in hand)`` per item.
* ``text_cursor``: what is under the terminal cursor (``Yourself a rogue`` when on the agent).

The port reproduces what the compiled wrapper does, quirks included (each is noted where it is
handled). ``tests/envs/test_minihack_nle_language.py`` runs the wrapper's own test cases.

:func:`balrog_text` lays the texts out as BALROG's ``NLELanguageWrapper`` does
(balrog/environments/nle/base.py): ``hybrid`` (its setting for text-only models: message, language
observation, cursor and the terminal map, with the inventory as the short-term context) or
``language`` (message, language observation, cursor; statistics and inventory short-term).
"""

from __future__ import annotations

from functools import cache, lru_cache

import numpy as np
from nle import nethack

DUNGEON_WIDTH, DUNGEON_HEIGHT = 79, 21

#: The wrapper's own names for NetHack's map symbols, by symbol index (its ``cmap_lookup``).
CMAP_NAMES: tuple[str, ...] = (
    "dark area",
    "vertical wall",
    "horizontal wall",
    "northwest room corner",
    "northeast room corner",
    "southwest corner",
    "southeast corner",
    "cross wall",
    "t up wall",
    "t down wall",
    "t west wall",
    "t east wall",
    "doorway",
    "vertical open door",
    "horizontal open door",
    "vertical closed door",
    "horizontal closed door",
    "bars",
    "tree",
    "room floor",
    "dark room floor",
    "corridor floor",
    "lit corridor floor",
    "stairs up",
    "stairs down",
    "ladder up",
    "ladder down",
    "alter",
    "grave",
    "throne",
    "sink",
    "fountain",
    "pool",
    "ice",
    "lava",
    "vertical lowered drawbridge",
    "horizontal lowered drawbridge",
    "vertical raised drawbridge",
    "horizontal raised drawbridge",
    "air floor",
    "cloud floor",
    "water floor",
    "arrow trap",
    "dart trap",
    "falling rock trap",
    "squeaky board",
    "bear trap",
    "land mine",
    "rolling boulder trap",
    "sleeping gas trap",
    "rust trap",
    "fire trap",
    "pit",
    "spiked pit",
    "hole",
    "trap door",
    "teleportation trap",
    "level teleporter",
    "magic portal",
    "web",
    "statue trap",
    "magic trap",
    "anti magic trap",
    "polymorph trap",
    "vibrating square",
    "vertical beam",
    "horizontal beam",
    "left slant beam",
    "right slant beam",
    "dig beam",
    "flash beam",
    "boom left",
    "boom right",
    "shield 1",
    "shield 2",
    "shield 3",
    "shield 4",
    "poison cloud",
    "valid position",
    "swallow top left",
    "swallow top center",
    "swallow top right",
    "swallow middle left",
    "swallow middle right",
    "swallow bottom left",
    "swallow bottom center",
    "swallow bottom right",
    "explosion top left",
    "explosion top center",
    "explosion top right",
    "explosion middle left",
    "explosion middle center",
    "explosion middle right",
    "explosion bottom left",
    "explosion bottom center",
    "explosion bottom right",
)  # ("alter" is the wrapper's spelling of altar.)
FLOORS = frozenset({"room floor", "dark room floor", "corridor floor", "lit corridor floor"})
#: Map symbols listed wherever they are on the map (everything else is seen only along the rays).
LISTED_SYMBOLS = frozenset(
    {
        "horizontal closed door",
        "vertical closed door",
        "bars",
        "tree",
        "stairs up",
        "stairs down",
        "ladder up",
        "ladder down",
        "alter",
        "grave",
        "throne",
        "sink",
        "fountain",
        "pool",
        "ice",
        "lava",
        "vertical raised drawbridge",
        "horizontal raised drawbridge",
    }
)
#: Symbols that end a ray.
BLOCKING = frozenset(
    {
        "dark area",
        "vertical wall",
        "horizontal wall",
        "northwest room corner",
        "northeast room corner",
        "southwest corner",
        "southeast corner",
        "cross wall",
        "t up wall",
        "t down wall",
        "t west wall",
        "t east wall",
        "horizontal closed door",
        "vertical closed door",
        "horizontal raised drawbridge",
        "vertical raised drawbridge",
    }
)
SWALLOW_NAMES = (
    "swallow top left",
    "swallow top center",
    "swallow top right",
    "swallow middle left",
    "swallow middle right",
    "swallow bottom left",
    "swallow bottom center",
    "swallow bottom right",
)
ZAP_NAMES = ("horizontal zap beam", "vertical zap beam", "left slant zap beam", "right slant zap beam")
EXPLOSION_NAMES = (
    "explosion top left",
    "explosion top center",
    "explosion top right",
    "explosion middle left",
    "explosion middle center",
    "explosion middle right",
    "explosion bottom left",
    "explosion bottom center",
    "explosion bottom right",
)
#: NetHack's ``def_warnsyms`` explanations (drawing.c), by warning level.
WARNINGS = tuple(
    f"unknown creature causing you {word}"
    for word in ("worry", "concern", "anxiety", "disquiet", "alarm", "dread")
)
DISTANCE_ORDER = ("very far", "far", "near", "very near", "adjacent")
DIRECTION_ORDER = (
    "north",
    "northnortheast",
    "northeast",
    "eastnortheast",
    "east",
    "eastsoutheast",
    "southeast",
    "southsoutheast",
    "south",
    "southsouthwest",
    "southwest",
    "westsouthwest",
    "west",
    "westnorthwest",
    "northwest",
    "northnorthwest",
)
#: Ray directions in the wrapper's order, as (dx, dy) with y growing southwards.
RAYS = ((1, 0), (1, 1), (0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1))
RAY_LENGTH = 9
ALIGNMENTS = {-128: "None", 1: "Lawful", 0: "Neutral", -1: "Chaotic"}
HUNGER = {0: "Satiated", 1: "Not Hungry", 2: "Hungry", 3: "Weak", 4: "Fainting", 5: "Fainted", 6: "Starved"}
ENCUMBRANCE = {
    0: "Unencumbered",
    1: "Burdened",
    2: "Stressed",
    3: "Strained",
    4: "Overtaxed",
    5: "Overloaded",
}
#: Condition names in the order the compiled wrapper lists them: it walks a ``std::unordered_map``,
#: whose order under libstdc++ (13 buckets) is this one, not the declaration order.
CONDITIONS = (
    (nethack.BL_MASK_FLY, "Flying"),
    (nethack.BL_MASK_LEV, "Levitating"),
    (nethack.BL_MASK_HALLU, "Hallucinating"),
    (nethack.BL_MASK_CONF, "Confused"),
    (nethack.BL_MASK_STUN, "Stunned"),
    (nethack.BL_MASK_DEAF, "Deaf"),
    (nethack.BL_MASK_BLIND, "Blind"),
    (nethack.BL_MASK_TERMILL, "Terminally Ill"),
    (nethack.BL_MASK_FOODPOIS, "Food Poisoning"),
    (nethack.BL_MASK_STRNGL, "Strangled"),
    (nethack.BL_MASK_SLIME, "Slimed"),
    (nethack.BL_MASK_RIDE, "Riding"),
    (nethack.BL_MASK_STONE, "Stoned"),
)
#: The wrapper's trim strips these (its whitespace literal ends at the embedded NUL: space and \x1a).
_TRIMMED = " \x1a"


# --------------------------------------------------------------------------- glyph names
def _object_name(glyph: int) -> str:
    index = nethack.glyph_to_obj(glyph)
    klass = nethack.objclass(index).oc_class
    klass = ord(klass) if isinstance(klass, str) else int(klass)
    names = nethack.objdescr.from_idx(index)
    name, description = names.oc_name or "", names.oc_descr or ""
    if klass in (
        nethack.ILLOBJ_CLASS,
        nethack.WEAPON_CLASS,
        nethack.COIN_CLASS,
        nethack.ROCK_CLASS,
        nethack.BALL_CLASS,
        nethack.CHAIN_CLASS,
    ):
        return name
    if klass in (nethack.ARMOR_CLASS, nethack.TOOL_CLASS):
        return description or name
    if klass == nethack.RING_CLASS:
        return f"{description} ring"
    if klass == nethack.AMULET_CLASS:
        return description if "Amulet" in description else f"{description} amulet"
    if klass == nethack.FOOD_CLASS:
        return name + description
    if klass == nethack.POTION_CLASS:
        return f"{description} potion"
    if klass == nethack.SCROLL_CLASS:
        return f"scroll labeled {description}"
    if klass == nethack.SPBOOK_CLASS:
        return f"{description} spellbook"
    if klass == nethack.WAND_CLASS:
        return f"{description} wand"
    if klass == nethack.GEM_CLASS:
        return name if description in name else f"{description} {name}"
    if klass == nethack.VENOM_CLASS:
        return f"splash of {name}"
    return ""


def _monster(glyph: int) -> str:
    return nethack.permonst(nethack.glyph_to_mon(glyph)).mname


def _listed_name(glyph: int) -> str:
    """The wrapper's ``fullscreen_view_glyph_map``: the name of a glyph listed wherever it is ("" if not)."""
    n = nethack
    if glyph >= n.GLYPH_STATUE_OFF:
        return f"{_monster(glyph)} statue"
    if glyph >= n.GLYPH_WARNING_OFF:
        return WARNINGS[n.glyph_to_warning(glyph)]
    if glyph >= n.GLYPH_SWALLOW_OFF:
        return SWALLOW_NAMES[(glyph - n.GLYPH_SWALLOW_OFF) % len(SWALLOW_NAMES)]
    if glyph >= n.GLYPH_ZAP_OFF:
        return ZAP_NAMES[(glyph - n.GLYPH_ZAP_OFF) % len(ZAP_NAMES)]
    if glyph >= n.GLYPH_EXPLODE_OFF:
        return EXPLOSION_NAMES[(glyph - n.GLYPH_EXPLODE_OFF) % n.MAXEXPCHARS]
    if glyph >= n.GLYPH_CMAP_OFF:
        name = CMAP_NAMES[n.glyph_to_cmap(glyph)]
        return name if name not in FLOORS and name in LISTED_SYMBOLS else ""
    if glyph >= n.GLYPH_OBJ_OFF:
        return _object_name(glyph)
    if glyph >= n.GLYPH_RIDDEN_OFF:
        return f"ridden {_monster(glyph)}"
    if glyph >= n.GLYPH_BODY_OFF:
        return f"{nethack.permonst(glyph - n.GLYPH_BODY_OFF).mname} corpse"
    if glyph >= n.GLYPH_DETECT_OFF:
        return f"detected {_monster(glyph)}"
    if glyph >= n.GLYPH_INVIS_OFF:
        return "invisible creature"
    if glyph >= n.GLYPH_PET_OFF:
        return f"tame {_monster(glyph)}"
    return _monster(glyph)


def _ray_name(glyph: int) -> str:
    """The wrapper's ``visual_view_glyph_map``: map symbols seen only along the rays ("" if not)."""
    if nethack.GLYPH_CMAP_OFF <= glyph < nethack.GLYPH_EXPLODE_OFF:
        name = CMAP_NAMES[nethack.glyph_to_cmap(glyph)]
        return name if name not in FLOORS and name not in LISTED_SYMBOLS else ""
    return ""


@lru_cache(maxsize=1)
def glyph_tables() -> tuple[tuple[str, ...], tuple[str, ...], np.ndarray]:
    """Listed names, ray names (by glyph) and a mask of the glyphs with a listed name."""
    listed = tuple(_listed_name(g) for g in range(nethack.MAX_GLYPH)) + ("",)  # + NO_GLYPH
    rays = tuple(_ray_name(g) for g in range(nethack.MAX_GLYPH)) + ("",)
    return listed, rays, np.array([bool(name) for name in listed], dtype=bool)


def pluralize(noun: str) -> str:
    """The wrapper's plural: mass nouns and exceptions, then English endings.

    Its test for a ``-ch`` ending reads ``noun[-1]`` in C++, the byte before the string, never ``h``:
    so ``-ch`` nouns take a plain ``s`` there, and here.
    """
    if noun.endswith(("boots", "shoes", "scales", "lenses", "bars")):
        return noun
    exceptions = {
        "can of grease": "cans of grease",
        "Master of Thieves": "Masters of Thieves",
        "ice": "area of ice",
        "lava": "area of lava",
    }
    if noun in exceptions:
        return exceptions[noun]
    for head, plural in (
        ("boom ", "booms "),
        ("shield ", "shields "),
        ("swallow ", "swallows "),
        ("scroll ", "scrolls "),
        ("worthless piece ", "worthless pieces "),
        ("unknown creature ", "unknown creatures "),
    ):
        if noun.startswith(head):
            return plural + noun[len(head) :]
    if len(noun) >= 2 and noun[-1] == "y" and noun[-2] not in "aeiou":
        return noun[:-1] + "ies"
    if noun.endswith(("z", "x", "sh", "ss")):
        return noun + "es"
    if noun.endswith("f"):
        return noun[:-2] + "ves" if noun.endswith("ff") else noun[:-1] + "ves"
    if noun.endswith("s"):
        return noun + "es"
    return noun + "s"


# --------------------------------------------------------------------------- positions
def distance_word(steps: int) -> str:
    if steps == 1:
        return "adjacent"
    if steps == 2:
        return "very near"
    if 2 < steps < 6:
        return "near"
    if 5 < steps < 20:
        return "far"
    return "very far"


@cache
def place(dx: int, dy: int) -> tuple[str, str]:
    """``(distance, direction)`` of a square ``dx`` east and ``dy`` NORTH of the agent (the wrapper's
    ``pos_to_str``): the diagonal part of the offset is named last."""
    diagonal_steps = min(abs(dx), abs(dy))
    diagonal = ""
    if diagonal_steps:
        diagonal = ("south" if dy < 0 else "north") + ("west" if dx < 0 else "east")
    rest_x = dx - diagonal_steps if dx > 0 else dx + diagonal_steps
    rest_y = dy - diagonal_steps if dy > 0 else dy + diagonal_steps
    horizontal = "west" if rest_x < 0 else "east" if rest_x > 0 else ""
    vertical = "south" if rest_y < 0 else "north" if rest_y > 0 else ""
    return distance_word(max(abs(dx), abs(dy))), vertical + horizontal + diagonal


def _trim(text: str) -> str:
    """The wrapper's ``trim``: strips spaces and \\x1a, and yields "" when the first kept character
    is the last one (a one-character remainder is dropped)."""
    start = next((i for i, c in enumerate(text) if c not in _TRIMMED), None)
    if start == len(text) - 1:
        return ""
    return text[start:].rstrip(_TRIMMED) if start is not None else ""


# --------------------------------------------------------------------------- the five texts
class NLELanguage:
    """The five texts of nle-language-wrapper's ``NLELanguageObsv`` (see the module docstring)."""

    def text_glyphs(self, glyphs: np.ndarray, blstats: np.ndarray) -> str:
        x, y = int(blstats[0]), int(blstats[1])
        entries = self._listed(glyphs, x, y) + self._rays(glyphs, x, y)
        lines = [
            f"{name} {distance} {directions}" for name, distance, directions in _grouped(_sorted(entries))
        ]
        return "\n".join(lines)

    @staticmethod
    def _listed(glyphs: np.ndarray, x: int, y: int) -> list[tuple[str, str, str]]:
        listed, _, mask = glyph_tables()
        flat = glyphs.reshape(-1)
        entries = []
        for index in np.flatnonzero(mask[flat]).tolist():
            gy, gx = divmod(index, DUNGEON_WIDTH)
            if gx == x and gy == y:
                continue
            entries.append((listed[flat[index]], *place(gx - x, y - gy)))
        return entries

    @staticmethod
    def _rays(glyphs: np.ndarray, x: int, y: int) -> list[tuple[str, str, str]]:
        listed, rays, _ = glyph_tables()
        entries = []
        for dx, dy in RAYS:
            for step in range(1, RAY_LENGTH + 1):
                gx, gy = x + dx * step, y + dy * step
                if not (0 <= gx < DUNGEON_WIDTH and 0 <= gy < DUNGEON_HEIGHT):
                    break
                glyph = int(glyphs[gy, gx])
                name = rays[glyph]
                if name and not listed[glyph]:
                    entries.append((name, *place(gx - x, y - gy)))
                    if name in BLOCKING:
                        break
        return entries

    def text_message(self, tty_chars: np.ndarray) -> str:
        rows = [bytes(row).decode("latin-1") for row in tty_chars]
        first = rows[0]
        second = rows[1] if len(rows) > 1 else ""
        indent = len(first) - len(first.lstrip(" ")) if first.strip(" ") else None
        first, second = _trim(first), _trim(second)
        if first == "" and second == "":
            return first
        death_screen = "Points" in second or "list!" in second
        output, blank_rows = "", 0
        for number, row in enumerate(rows):
            # Rows are read from the first row's indentation. A blank first row leaves the wrapper's
            # indent at npos, and it then reads each row from the last character of the row above
            # (for the first row, the byte before NLE's buffer, which is NUL in the NLE in use).
            if indent is not None:
                text = _trim(row[indent:])
            else:
                text = _trim((rows[number - 1][-1] if number else "\0") + row)
            blank_rows = blank_rows + 1 if text == "" else 0
            output += text
            if _ends_page(text):
                return output
            if text:
                output += "\n"
            if death_screen and blank_rows > 1:
                return output
        return first

    def text_blstats(self, blstats: np.ndarray) -> str:
        b = [int(v) for v in blstats]
        conditions = [name for mask, name in CONDITIONS if b[25] & mask]
        lines = [
            f"Strength: {b[3]}/{b[2]}",
            f"Dexterity: {b[4]}",
            f"Constitution: {b[5]}",
            f"Intelligence: {b[6]}",
            f"Wisdom: {b[7]}",
            f"Charisma: {b[8]}",
            f"Depth: {b[12]}",
            f"Gold: {b[13]}",
            f"HP: {b[10]}/{b[11]}",
            f"Energy: {b[14]}/{b[15]}",
            f"AC: {b[16]}",
            f"XP: {b[18]}/{b[19]}",
            f"Time: {b[20]}",
            f"Position: {b[0]}|{b[1]}",
            f"Hunger: {HUNGER.get(b[21], '')}",
            f"Monster Level: {b[17]}",
            f"Encumbrance: {ENCUMBRANCE.get(b[22], '')}",
            f"Dungeon Number: {b[23]}",
            f"Level Number: {b[24]}",
            f"Score: {b[9]}",
            f"Alignment: {ALIGNMENTS.get(b[26], '')}",
            f"Condition: {' '.join(conditions) if conditions else 'None'}",
        ]
        return "\n".join(lines)

    def text_inventory(self, inv_strs: np.ndarray, inv_letters: np.ndarray) -> str:
        lines = []
        for letter, line in zip(inv_letters.tolist(), inv_strs):
            if not letter:
                break
            text = bytes(line).partition(b"\0")[0].decode("latin-1")
            lines.append(f"{chr(letter)}: {text}")
        return "\n".join(lines)

    def text_cursor(self, glyphs: np.ndarray, blstats: np.ndarray, tty_cursor: np.ndarray) -> str:
        x, y = int(blstats[0]), int(blstats[1])
        cursor_x, cursor_y = int(tty_cursor[1]), int(tty_cursor[0]) - 1  # screen row 0 is the message line
        dx, dy = cursor_x - x, y - cursor_y
        index = cursor_x + cursor_y * DUNGEON_WIDTH
        # The wrapper requires index > 0: the top-left square is never described.
        if not (
            -DUNGEON_WIDTH <= dx < DUNGEON_WIDTH
            and -DUNGEON_HEIGHT <= dy < DUNGEON_HEIGHT
            and 0 < index < glyphs.size
        ):
            return ""
        listed, _, _ = glyph_tables()
        name = listed[int(glyphs.reshape(-1)[index])]
        if dx == 0 and dy == 0:
            return f"Yourself a {name}"
        distance, direction = place(dx, dy)
        return f"{distance} {direction} {name}"


def _ends_page(row: str) -> bool:
    """The row ends a menu or window page: ``(1 of 5)``, ``--More--`` or ``(end)``."""
    of = row.find(" of ")
    numbered = of >= 2 and of + 5 < len(row) and row[of - 2] == "(" and row[of + 5] == ")"
    return numbered or "--More--" in row or "(end)" in row


def _sorted(entries: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """Far to near, then clockwise from north; the scan order within (the wrapper's
    ``sort_by_distance_direction``, which drops anything without a known distance and direction)."""
    distance_rank = {d: i for i, d in enumerate(DISTANCE_ORDER)}
    direction_rank = {d: i for i, d in enumerate(DIRECTION_ORDER)}
    known = [e for e in entries if e[1] in distance_rank and e[2] in direction_rank]
    return sorted(known, key=lambda e: (distance_rank[e[1]], direction_rank[e[2]]))


def _grouped(entries: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """One line per name and distance (the wrapper's ``compress_by_glyph``): the directions where
    it is once, then, under the plural, the directions where it is more than once."""
    groups: dict[tuple[str, str], list[str]] = {}
    for name, distance, direction in entries:
        groups.setdefault((name, distance), []).append(direction)
    keys: list[tuple[str, str]] = []
    directions_of: dict[tuple[str, str], list[str]] = {}
    for (name, distance), directions in groups.items():
        counts: dict[str, int] = {}
        for direction in directions:
            counts[direction] = counts.get(direction, 0) + 1
        single = [d for d, n in counts.items() if n == 1]
        several = [d for d, n in counts.items() if n > 1]
        if single:
            keys.append((name, distance))
            directions_of[(name, distance)] = single
        if several:
            plural = (pluralize(name), distance)
            keys.append(plural)
            directions_of[plural] = several  # as in the wrapper, a later group of the same key wins
    return [(name, distance, _joined(directions_of[(name, distance)])) for name, distance in keys]


def _joined(words: list[str]) -> str:
    if len(words) == 1:
        return words[0]
    if len(words) == 2:
        return f"{words[0]} and {words[1]}"
    return f"{', '.join(words[:-1])}, and {words[-1]}"


# --------------------------------------------------------------------------- BALROG's layout
BALROG_MODES = ("hybrid", "language")


def balrog_text(language: NLELanguage, obs: dict[str, np.ndarray], mode: str = "hybrid") -> str:
    """The observation text BALROG's agents read for ``obs``: the short-term context, then the
    long-term one, as its ``HistoryPromptBuilder`` joins them for the current observation."""
    glyphs, blstats = obs["glyphs"], obs["blstats"]
    texts = {
        "message": language.text_message(obs["tty_chars"]),
        "language observation": language.text_glyphs(glyphs, blstats),
        "cursor": language.text_cursor(glyphs, blstats, obs["tty_cursor"]),
        "inventory": language.text_inventory(obs["inv_strs"], obs["inv_letters"]),
    }
    if mode == "hybrid":
        cursor = obs["tty_cursor"]
        texts["cursor"] += f"\n(x={int(cursor[1])}, y={int(cursor[0])})"
        texts["map"] = _terminal_map(obs["tty_chars"])
        long_term, short_term = ("message", "language observation", "cursor", "map"), ("inventory",)
    elif mode == "language":
        texts["statistics"] = language.text_blstats(blstats)
        long_term, short_term = ("message", "language observation", "cursor"), ("statistics", "inventory")
    else:
        raise ValueError(f"mode must be one of {', '.join(BALROG_MODES)}; got {mode!r}")
    return "\n".join([_context(texts, short_term), _context(texts, long_term)])


def _context(texts: dict[str, str], names: tuple[str, ...]) -> str:
    return "\n".join(f"{name}:\n{texts[name]}\n" for name in names)


def _terminal_map(tty_chars: np.ndarray) -> str:
    """The terminal without its message line, as BALROG's ``ascii_render`` + first-line cut gives it."""
    rows = [bytes(row).decode("latin-1") for row in tty_chars]
    return "\n".join(rows[1:]) + "\n"
