"""Text actions for MiniHack: what an agent may type, and the NetHack keys each one becomes.

An action is one line of text, matched case-insensitively:

* a direction (``north``, ``n``, ``north-east``, ``ne``, ...), alone or after ``move``/``go``/``walk``:
  one step;
* ``far <direction>``: NetHack's shift-move (run until something interesting);
* a verb with optional arguments, e.g. ``pick up``, ``apply key west``, ``unlock west with lock pick``,
  ``open north``, ``kick east``, ``zap wand of striking south``, ``eat apple``;
* any other NetHack command by its NLE name (``seearmor``, ``attributes``, ``takeoffall`` ...).

A verb's *item* answers NetHack's "What do you want to ...?" prompt (an inventory letter, or words that
appear in the item's inventory line), its *direction* answers "In what direction?" and, for ``pick
up``, the item chooses from the pile menu. The engine answers the prompts in the order the game asks
them, so ``apply key west`` is a single action (apply, which item, which direction, "Unlock it?" yes).

:func:`parse_action` is pure: it never touches the game. It returns a :class:`GameAction` or an
:class:`ActionError` whose message says what was wrong; :data:`FORMS` lists the valid forms.
:class:`ActionSet` narrows the language to a task's own MiniHack action set (KeyRoom: the eight
moves, ``pick up`` and MiniHack's ``apply`` script).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

from nle import nethack

from agentrl.core.env import quote

Command = nethack.Command

#: The eight compass directions: canonical name -> NetHack key.
COMPASS: dict[str, int] = {
    "north": ord("k"),
    "south": ord("j"),
    "east": ord("l"),
    "west": ord("h"),
    "northeast": ord("u"),
    "northwest": ord("y"),
    "southeast": ord("n"),
    "southwest": ord("b"),
}
#: Directions that answer "In what direction?" but are not map moves.
PROMPT_ONLY_DIRECTIONS: dict[str, int] = {"up": ord("<"), "down": ord(">"), "self": ord(".")}
DIRECTION_KEYS: dict[str, int] = {**COMPASS, **PROMPT_ONLY_DIRECTIONS}
#: Every accepted spelling of a direction -> canonical name.
DIRECTION_WORDS: dict[str, str] = {
    **{name: name for name in DIRECTION_KEYS},
    "n": "north",
    "s": "south",
    "e": "east",
    "w": "west",
    "ne": "northeast",
    "nw": "northwest",
    "se": "southeast",
    "sw": "southwest",
    "here": "self",
    "myself": "self",
    "yourself": "self",
    ".": "self",
}
#: (dx, dy) of each compass direction; y grows southwards as on the NetHack screen.
COMPASS_OFFSETS: dict[str, tuple[int, int]] = {
    "north": (0, -1),
    "south": (0, 1),
    "east": (1, 0),
    "west": (-1, 0),
    "northeast": (1, -1),
    "northwest": (-1, -1),
    "southeast": (1, 1),
    "southwest": (-1, 1),
}

MOVE_WORDS = frozenset({"move", "go", "walk", "step", "head"})
FAR_WORDS = frozenset({"far", "run"})
ALL = "*"
"""``GameAction.select`` value that selects every entry of a pick-up menu."""

_ARTICLES = frozenset({"the", "a", "an", "my", "your", "some"})
_DIRECTION_FILLERS = frozenset({"to", "toward", "towards", "at", "the", "in", "direction", "facing", "on"})
_DOOR_WORDS = frozenset({"door", "it", "the", "that", "this"})


@dataclass(frozen=True)
class Verb:
    """One verb of the text action language."""

    names: tuple[str, ...]
    """Accepted spellings; the first one is canonical."""
    key: int
    """The NetHack key the verb types first."""
    item: str = "no"
    """``req``, ``opt`` or ``no``: whether the verb takes an item argument."""
    direction: str = "no"
    """``req``, ``opt`` or ``no``: whether the verb takes a direction argument."""
    prefix: bool = False
    """The direction is typed right after the key (NetHack prefix commands) instead of at a prompt."""
    default_item: str | None = None
    summary: str = ""
    usage: str = ""
    """How to write it, when the generic ``verb <item> <direction>`` pattern does not say it well."""

    @property
    def form(self) -> str:
        if self.usage:
            return self.usage
        parts = [self.names[0]]
        if self.item != "no":
            parts.append("<item>" if self.item == "req" else "[item]")
        if self.direction != "no":
            parts.append("<direction>" if self.direction == "req" else "[direction]")
        return " ".join(parts)


@dataclass(frozen=True)
class GameAction:
    """A parsed action: the keys to type and the answers to the prompts the game may ask."""

    text: str
    """Canonical spelling, e.g. ``apply key west``."""
    keys: tuple[int, ...]
    item: str | None = None
    """Answers "What do you want to ...?": an inventory letter or words of the item's name."""
    direction: int | None = None
    """Key that answers "In what direction?"."""
    select: str | None = None
    """Menu choice (pick-up piles, spell lists): words of the entry, or :data:`ALL`."""
    key_door: bool = False
    """MiniHack's KeyRoom ``apply``: the task's scripted "unlock and open the door with the key"."""


@dataclass(frozen=True)
class ActionError:
    """Why a text could not be read as an action."""

    message: str


def _verbs() -> tuple[Verb, ...]:
    curated = (
        Verb(
            ("pick up", "pickup", "take", "grab", "get"),
            Command.PICKUP,
            item="opt",
            summary="pick up what is here; name an item to choose it from a pile",
        ),
        Verb(
            ("apply", "use"),
            Command.APPLY,
            item="req",
            direction="opt",
            summary="apply a tool; a key or lock pick toward a door unlocks it",
        ),
        Verb(
            ("unlock",),
            Command.APPLY,
            item="opt",
            direction="req",
            default_item="key",
            summary="apply a key (or the item after 'with') toward a locked door",
            usage="unlock <direction> [with <item>]",
        ),
        Verb(("open",), Command.OPEN, direction="req", summary="open a door"),
        Verb(("close", "shut"), Command.CLOSE, direction="req", summary="close a door"),
        Verb(("kick",), Command.KICK, direction="req", summary="kick (doors, monsters, objects)"),
        Verb(("search",), Command.SEARCH, summary="search adjacent squares for hidden things"),
        Verb(("wait", "rest"), nethack.MiscDirection.WAIT, summary="let one turn pass"),
        Verb(("look", "look here"), Command.LOOK, summary="describe what is on this square"),
        Verb(("go down", "descend"), nethack.MiscDirection.DOWN, summary="go down the stairs"),
        Verb(("go up", "ascend"), nethack.MiscDirection.UP, summary="go up the stairs"),
        Verb(
            ("fight", "attack"),
            Command.FIGHT,
            direction="req",
            prefix=True,
            summary="attack in a direction even if no monster is shown",
        ),
        Verb(
            ("rush",), Command.RUSH, direction="req", prefix=True, summary="rush until something interesting"
        ),
        Verb(("eat",), Command.EAT, item="opt", summary="eat an item (or what is here)"),
        Verb(("quaff", "drink"), Command.QUAFF, item="opt", summary="drink a potion (or from a fountain)"),
        Verb(("read",), Command.READ, item="req", summary="read a scroll or spellbook"),
        Verb(("wield",), Command.WIELD, item="req", summary="wield a weapon"),
        Verb(("wear",), Command.WEAR, item="req", summary="wear armor"),
        Verb(("put on", "puton"), Command.PUTON, item="req", summary="put on a ring, amulet or blindfold"),
        Verb(("take off", "takeoff"), Command.TAKEOFF, item="opt", summary="take off armor"),
        Verb(("remove",), Command.REMOVE, item="opt", summary="remove an accessory"),
        Verb(("drop",), Command.DROP, item="req", summary="drop an item"),
        Verb(("zap",), Command.ZAP, item="req", direction="opt", summary="zap a wand"),
        Verb(("throw",), Command.THROW, item="req", direction="req", summary="throw an item"),
        Verb(("fire",), Command.FIRE, direction="req", summary="fire from the quiver"),
        Verb(("quiver",), Command.QUIVER, item="req", summary="ready an item in the quiver"),
        Verb(
            ("cast",),
            Command.CAST,
            item="req",
            direction="opt",
            summary="cast a spell (named as in the spell menu)",
        ),
        Verb(("pray",), Command.PRAY, summary="pray to your god (confirmed)"),
        Verb(("chat", "talk"), Command.CHAT, direction="req", summary="talk to someone"),
        Verb(("untrap", "disarm"), Command.UNTRAP, direction="req", summary="disarm a trap"),
        Verb(("dip",), Command.DIP, item="req", summary="dip an item into something"),
        Verb(("rub",), Command.RUB, item="req", summary="rub a lamp or stone"),
    )
    covered = {v.key for v in curated}
    generic = tuple(
        Verb(
            (command.name.lower(),),
            command,
            item="opt",
            direction="opt",
            summary=f"NetHack command {command.name} (``nle.nethack.Command``)",
        )
        for command in Command
        if command not in EXCLUDED_COMMANDS and command not in covered
    )
    return curated + generic


#: NLE commands that are not actions: they quit/save the game, need a map cursor or typed text, or
#: only change options. (The ``m``/``M``/``G`` prefixes are left out too: ``move`` means a plain step
#: here, and ``rush`` covers ``g``.)
EXCLUDED_COMMANDS = frozenset(nethack.NON_RL_ACTIONS) | {
    Command.ESC,
    Command.SHELL,
    Command.CALL,
    Command.ENGRAVE,
    Command.ADJUST,
    Command.JUMP,
    Command.MOVE,
    Command.MOVEFAR,
    Command.RUSH2,
}

VERBS: tuple[Verb, ...] = _verbs()
_VERB_INDEX: dict[tuple[str, ...], Verb] = {
    tuple(name.split()): verb for verb in VERBS for name in verb.names
}

#: Short reminder of the valid forms, shown after an invalid action.
FORMS = (
    "Valid actions: a direction to step (north, south, east, west, northeast, northwest, southeast, "
    "southwest, or n, s, e, w, ne, nw, se, sw); far <direction>; pick up [item]; apply <item> [direction]; "
    "unlock <direction> [with <item>]; open/close/kick <direction>; search; wait; go down; eat/quaff [item]; "
    "read/wield/wear/put on/drop <item>; zap <item> [direction]; throw <item> <direction>; pray; "
    "or any NetHack command by name. An item is an inventory letter or words from its name."
)


def _words(text: str) -> list[str]:
    text = text.strip().lower()
    text = re.sub(r"\b(north|south)[\s_-]+(east|west)\b", r"\1\2", text)
    words = [w.strip(".,!?;:'\"`()") for w in text.split()]
    return [w for w in words if w]


@lru_cache(maxsize=4096)
def parse_action(text: str) -> GameAction | ActionError:
    """Read one action (see module docstring). Never raises on agent text.

    Results are immutable and cached: agents repeat the same few actions.
    """
    words = _words(text)
    if not words:
        return ActionError("the action is empty")
    if len(words) == 1 and words[0] in DIRECTION_WORDS:
        return _step(words[0], text)
    if words[0] in MOVE_WORDS and len(words) == 2 and DIRECTION_WORDS.get(words[1]) in COMPASS:
        return _step(words[1], text)
    if words[0] in FAR_WORDS:
        return _far(words[1:], text)
    verb, rest = _match_verb(words)
    if verb is None:
        if words[0] in ("up", "down", "left", "right"):
            return ActionError(
                f"{words[0]!r} is not a map direction here: use north, south, east or west "
                "('go down' / 'go up' take the stairs)"
            )
        return ActionError(f"unknown action {quote(text.strip())}")
    return _bind(verb, rest)


def _step(word: str, text: str) -> GameAction | ActionError:
    name = DIRECTION_WORDS[word]
    if name in ("up", "down"):
        return ActionError(
            f"{word!r} is not a map direction here: use north, south, east or west "
            "('go down' / 'go up' take the stairs)"
        )
    if name not in COMPASS:
        return ActionError(f"{quote(text.strip())} is not a move: moves use the eight compass directions")
    return GameAction(name, (COMPASS[name],))


def _far(words: list[str], text: str) -> GameAction | ActionError:
    name = DIRECTION_WORDS.get(words[-1]) if words else None
    if name not in COMPASS or any(w not in _DIRECTION_FILLERS for w in words[:-1]):
        return ActionError(f"{quote(text.strip())}: 'far' needs one compass direction, e.g. 'far east'")
    return GameAction(f"far {name}", (ord(chr(COMPASS[name]).upper()),))


def _match_verb(words: list[str]) -> tuple[Verb | None, list[str]]:
    for length in (2, 1):
        verb = _VERB_INDEX.get(tuple(words[:length]))
        if verb is not None:
            return verb, words[length:]
    return None, words


def _split_direction(verb: Verb, words: list[str]) -> tuple[list[str], str | None]:
    """Take a trailing direction word off ``words`` when the verb accepts one."""
    if verb.direction == "no" or not words or words[-1] not in DIRECTION_WORDS:
        return words, None
    rest = words[:-1]
    while rest and rest[-1] in _DIRECTION_FILLERS:
        rest = rest[:-1]
    if verb.item == "req" and not _strip_articles(rest) and verb.default_item is None:
        return words, None  # "apply e": the single word is the item (letter e), not east
    return rest, DIRECTION_WORDS[words[-1]]


def _strip_articles(words: list[str]) -> list[str]:
    while len(words) > 1 and words[0] in _ARTICLES:  # a lone "a" is inventory letter a
        words = words[1:]
    return words


def _bind(verb: Verb, rest: list[str]) -> GameAction | ActionError:
    item_words: list[str] = []
    if "with" in rest or "using" in rest:
        cut = next(i for i, w in enumerate(rest) if w in ("with", "using"))
        rest, item_words = rest[:cut], _strip_articles(rest[cut + 1 :])
    rest, direction = _split_direction(verb, rest)
    if item_words or verb.item == "no":
        extra = [w for w in rest if w not in _DOOR_WORDS and w not in _DIRECTION_FILLERS]
        if extra:
            return ActionError(f"'{verb.names[0]}' does not take {quote(' '.join(extra))}; use: {verb.form}")
    else:
        item_words = _strip_articles(rest)
    if item_words and verb.item == "no":
        return ActionError(f"'{verb.names[0]}' takes no item; use: {verb.form}")
    item = " ".join(item_words) or verb.default_item
    if verb.item == "req" and not item:
        return ActionError(f"'{verb.names[0]}' needs an item; use: {verb.form}")
    if verb.direction == "req" and direction is None:
        return ActionError(f"'{verb.names[0]}' needs a direction; use: {verb.form}")
    if verb.prefix and direction not in COMPASS:
        return ActionError(f"'{verb.names[0]}' needs a compass direction; use: {verb.form}")
    return _action(verb, item, direction)


def _action(verb: Verb, item: str | None, direction: str | None) -> GameAction:
    text = " ".join(p for p in (verb.names[0], item, direction) if p)
    key = DIRECTION_KEYS[direction] if direction else None
    if verb.prefix:
        return GameAction(text, (verb.key, key))  # type: ignore[arg-type]
    if verb.key == Command.PICKUP:
        return GameAction(text, (verb.key,), select=item or ALL)
    if verb.key == Command.CAST:
        return GameAction(text, (verb.key,), direction=key, select=item)
    return GameAction(text, (verb.key,), item=item, direction=key)


# --------------------------------------------------------------------------- action sets
#: Argument-free commands that ``ActionSet.listed`` offers when the set has them: they never raise a
#: question the action cannot answer, so they are valid in any state.
SIMPLE_ACTIONS = ("pick up", "search", "wait")
#: Verbs that ``ActionSet.listed`` offers toward an adjacent closed door.
DOOR_VERBS = ("open", "kick")
KEY_DOOR_FORM = ("apply (with the key in your inventory and a closed door next to you: unlock the door "
                 "with the key and open it, in one action)")
_KEY_WORDS = frozenset({"key", *_ARTICLES})
KEY_DOOR_APPLY = GameAction("apply", (Command.APPLY,), key_door=True)
"""MiniHack's KeyRoom ``apply``: the task's script, not NetHack's apply command."""


class ActionSet:
    """Which text actions a task accepts: MiniHack's own action set for the task, or every command.

    ``ActionSet(commands)`` accepts an action only when its command key is one of ``commands`` (the
    keys of the task's MiniHack ``env.actions``); ``ActionSet()`` accepts every command of the text
    language. With ``key_door`` (MiniHack's KeyRoom), ``apply`` is the task's scripted "unlock and
    open the door with the key" and takes no arguments but ``key``; NetHack's own apply (``apply
    lock pick west``, ``unlock west``) is not one of the task's actions.
    """

    _CACHE_LIMIT = 4096

    def __init__(self, commands: Iterable[int] | None = None, *, key_door: bool = False):
        self.commands = None if commands is None else frozenset(int(c) for c in commands)
        self.key_door = key_door
        self.moves = tuple(name for name, key in COMPASS.items() if self.allows(key))
        self.far_moves = tuple(
            f"far {name}" for name, key in COMPASS.items() if self.allows(ord(chr(key).upper()))
        )
        self.simple = tuple(text for text in SIMPLE_ACTIONS if self.allows(_command_of(text)))
        self.door_verbs = tuple(verb for verb in DOOR_VERBS if self.allows(_command_of(f"{verb} north")))
        self._parsed: dict[str, GameAction | ActionError] = {}

    @property
    def full(self) -> bool:
        """Every command of the text language is accepted."""
        return self.commands is None

    def allows(self, key: int) -> bool:
        return self.commands is None or key in self.commands

    def parse(self, text: str) -> GameAction | ActionError:
        """:func:`parse_action`, restricted to this set (remembered: agents repeat a few texts)."""
        found = self._parsed.get(text)
        if found is None:
            if len(self._parsed) >= self._CACHE_LIMIT:
                self._parsed.clear()
            found = self._parsed[text] = self._parse(text)
        return found

    def _parse(self, text: str) -> GameAction | ActionError:
        if self.key_door:
            words = _words(text)
            if words and words[0] in ("apply", "use") and set(words[1:]) <= _KEY_WORDS:
                return KEY_DOOR_APPLY
        action = parse_action(text)
        if isinstance(action, ActionError):
            return action
        if self.key_door and action.keys[0] == Command.APPLY:
            return ActionError(
                f"{quote(text.strip())}: on this task 'apply' is MiniHack's KeyRoom action, which unlocks "
                "and opens the closed door next to you with the key you hold; type just 'apply'"
            )
        if not self.allows(action.keys[0]):
            return ActionError(
                f"{quote(text.strip())} is not in this task's action set (MiniHack's own for the task; "
                "action_set='full' accepts every NetHack command)"
            )
        return action

    def forms(self) -> str:
        """The valid forms, for instructions and error messages."""
        if self.full:
            return FORMS
        parts = []
        if self.moves:
            spelled = ", ".join(self.moves)
            parts.append(f"a direction to step ({spelled}; n, ne, ... for short)")
        if self.far_moves:
            parts.append("far <direction>")
        for verb in VERBS:
            if self.allows(verb.key):
                parts.append(KEY_DOOR_FORM if self.key_door and verb.key == Command.APPLY else verb.form)
        return f"Valid actions (MiniHack's action set for this task): {'; '.join(dict.fromkeys(parts))}."


def _command_of(text: str) -> int:
    action = parse_action(text)
    assert isinstance(action, GameAction), text
    return action.keys[0]


def action_table() -> list[tuple[str, str, str]]:
    """``(form, keys, meaning)`` rows: the documented mapping from text to NetHack keys."""
    rows = [
        ("<direction>, move/go/walk/step/head <direction>", "k j l h u y n b", "step one square"),
        ("far <direction>, run <direction>", "K J L H U Y N B", "shift-move until something interesting"),
    ]
    for verb in VERBS:
        keys = _key_name(verb.key) + (" + direction" if verb.prefix else "")
        also = f" (also: {', '.join(verb.names[1:])})" if len(verb.names) > 1 else ""
        rows.append((verb.form + also, keys, verb.summary))
    return rows


def _key_name(key: int) -> str:
    if key < 0x20:
        return f"^{chr(key + 0x40)}"
    if key >= 0x80:
        return f"M-{chr(key & 0x7F)}"
    return chr(key)
