"""NetHack character strings (``sam-hum-law-mal``): read as NetHack reads them, or refused.

NLE passes ``character`` to NetHack as the suffix of the player's name (``Agent-sam-hum-law-mal``).
NetHack's ``plnamesuffix`` (src/role.c) splits it at ``-`` and tries each part, in this order, as a
role, a race, a gender and an alignment: a part names the first of them it is a case-insensitive
prefix (or three-letter file code) of, and ``@``, ``*`` or a prefix of ``random`` names a random
role. A part that matches nothing is ignored, and a combination the role does not allow is
replaced by a random one -- both silently. :func:`check_character` applies the same rules and
raises instead, so that a typo never starts a game as another character.

The tables are NetHack 3.6's (``roles[]``, ``races[]``, ``genders[]``, ``aligns[]`` in role.c).
"""

from __future__ import annotations

from dataclasses import dataclass

RANDOM = "random"


@dataclass(frozen=True)
class Role:
    names: tuple[str, ...]
    """Male name, then the female one where it differs."""
    code: str
    races: frozenset[str]
    aligns: frozenset[str]
    genders: frozenset[str]


_BOTH = frozenset({"male", "female"})
_ALL_ALIGNS = frozenset({"lawful", "neutral", "chaotic"})

#: NetHack's roles, in role.c's order (the order decides which role a short prefix names).
ROLES: tuple[Role, ...] = (
    Role(
        ("Archeologist",),
        "Arc",
        frozenset({"human", "dwarf", "gnome"}),
        frozenset({"lawful", "neutral"}),
        _BOTH,
    ),
    Role(("Barbarian",), "Bar", frozenset({"human", "orc"}), frozenset({"neutral", "chaotic"}), _BOTH),
    Role(
        ("Caveman", "Cavewoman"),
        "Cav",
        frozenset({"human", "dwarf", "gnome"}),
        frozenset({"lawful", "neutral"}),
        _BOTH,
    ),
    Role(("Healer",), "Hea", frozenset({"human", "gnome"}), frozenset({"neutral"}), _BOTH),
    Role(("Knight",), "Kni", frozenset({"human"}), frozenset({"lawful"}), _BOTH),
    Role(("Monk",), "Mon", frozenset({"human"}), _ALL_ALIGNS, _BOTH),
    Role(("Priest", "Priestess"), "Pri", frozenset({"human", "elf"}), _ALL_ALIGNS, _BOTH),
    Role(("Rogue",), "Rog", frozenset({"human", "orc"}), frozenset({"chaotic"}), _BOTH),
    Role(
        ("Ranger",),
        "Ran",
        frozenset({"human", "elf", "gnome", "orc"}),
        frozenset({"neutral", "chaotic"}),
        _BOTH,
    ),
    Role(("Samurai",), "Sam", frozenset({"human"}), frozenset({"lawful"}), _BOTH),
    Role(("Tourist",), "Tou", frozenset({"human"}), frozenset({"neutral"}), _BOTH),
    Role(
        ("Valkyrie",),
        "Val",
        frozenset({"human", "dwarf"}),
        frozenset({"lawful", "neutral"}),
        frozenset({"female"}),
    ),
    Role(
        ("Wizard",),
        "Wiz",
        frozenset({"human", "elf", "gnome", "orc"}),
        frozenset({"neutral", "chaotic"}),
        _BOTH,
    ),
)
#: Race -> file code, and the alignments each race allows.
RACES: dict[str, str] = {"human": "Hum", "elf": "Elf", "dwarf": "Dwa", "gnome": "Gno", "orc": "Orc"}
RACE_ALIGNS: dict[str, frozenset[str]] = {
    "human": _ALL_ALIGNS,
    "elf": frozenset({"chaotic"}),
    "dwarf": frozenset({"lawful"}),
    "gnome": frozenset({"neutral"}),
    "orc": frozenset({"chaotic"}),
}
GENDERS: dict[str, str] = {"male": "Mal", "female": "Fem"}
ALIGNS: dict[str, str] = {"lawful": "Law", "neutral": "Neu", "chaotic": "Cha"}


class CharacterError(ValueError):
    """A ``character`` string NetHack would not read as written."""


def _is_random(part: str) -> bool:
    return part in ("@", "*") or RANDOM.startswith(part.lower())


def _names(part: str, name: str, code: str) -> bool:
    return name.lower().startswith(part.lower()) or part.lower() == code.lower()


def _match(part: str) -> tuple[str, str] | None:
    """``(slot, value)`` NetHack gives one part: role/race/gender/align, tried in that order."""
    for role in ROLES:
        if any(_names(part, name, role.code) for name in role.names):
            return "role", role.names[0]
    if _is_random(part):
        return "role", RANDOM  # str2role answers first: NetHack reads every random part as the role
    for table, slot in ((RACES, "race"), (GENDERS, "gender"), (ALIGNS, "align")):
        for name, code in table.items():
            if _names(part, name, code):
                return slot, name
    return None


_PLURAL = {"race": "races", "gender": "genders", "align": "alignments"}
_EXAMPLE = "e.g. 'sam-hum-law-mal', 'val-dwa', 'wiz' or '@' (random)"


def check_character(character: str) -> dict[str, str]:
    """The role, race, gender and alignment NetHack makes of ``character`` (``random`` where not
    fixed); raises :class:`CharacterError` where NetHack would ignore a part or change the choice."""
    chosen: dict[str, str] = {}
    for part in character.split("-"):
        found = _match(part) if part else None
        if found is None:
            raise CharacterError(
                f"character {character!r}: {part!r} is not a NetHack role, race, gender or "
                f"alignment; {_EXAMPLE}. Roles: {', '.join(r.code.lower() for r in ROLES)}; races: "
                f"{', '.join(c.lower() for c in RACES.values())}; genders: mal, fem; "
                "alignments: law, neu, cha"
            )
        slot, value = found
        if slot in chosen:
            raise CharacterError(
                f"character {character!r}: {part!r} sets the {slot} again (NetHack reads a part "
                f"as a role first, so '@' and short prefixes such as 'm' name roles); {_EXAMPLE}"
            )
        chosen[slot] = value
    _check_combination(character, chosen)
    return {slot: chosen.get(slot, RANDOM) for slot in ("role", "race", "gender", "align")}


def _check_combination(character: str, chosen: dict[str, str]) -> None:
    role = next((r for r in ROLES if r.names[0] == chosen.get("role")), None)
    race = chosen.get("race", RANDOM)
    if role is None:
        return  # a random role: NetHack picks one that fits the rest
    allowed = {"race": role.races, "gender": role.genders, "align": role.aligns}
    if race != RANDOM:
        allowed["align"] = allowed["align"] & RACE_ALIGNS[race]
    for slot, values in allowed.items():
        value = chosen.get(slot, RANDOM)
        if value != RANDOM and value not in values:
            raise CharacterError(
                f"character {character!r}: a {role.names[0]} cannot be {value} "
                f"(allowed {_PLURAL[slot]}: {', '.join(sorted(values))}); NetHack would pick another"
            )
