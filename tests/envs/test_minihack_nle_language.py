"""The nle-language-wrapper port (``agentrl.envs.minihack.nle_language``) on the wrapper's own test cases.

The cases are translated from nle-language-wrapper's tests (github.com/ngoodger/nle-language-wrapper,
``nle_language_wrapper/tests/test_nle_language_wrapper.py``, ``test_wrapper_menu.py`` and the
``fake_nle_env`` fixtures of ``conftest.py``; MIT licence, (c) 2021 Nikolaj Goodger), with the same
glyph ids (NetHack 3.6's, unchanged in the NLE in use), observations and expected strings. The
wrapper itself cannot be installed next to this NLE, so the port is checked against its tests; then
BALROG's layout of the texts on a real game.
"""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("minihack")

import agentrl
from agentrl.core.check import check_text_env
from agentrl.envs.minihack.nle_language import NLELanguage, balrog_text, place, pluralize

LANGUAGE = NLELanguage()


def str_to_1d(text: str) -> np.ndarray:
    return np.array(bytearray(text.encode("utf-8")), dtype=np.uint8)


def strs_to_2d(texts: list[str], fill_value: int = 0) -> np.ndarray:
    width = max(len(t) for t in texts)
    out = np.full((len(texts), width), fill_value, dtype=np.uint8)
    for row, text in enumerate(texts):
        encoded = str_to_1d(text)
        out[row, : len(encoded)] = encoded
    return out


def fake_observation() -> dict[str, np.ndarray]:
    """The wrapper's ``fake_nle_env`` observation."""
    blstats = np.array(
        [66, 14, 19, 1, 4, 5, 6, 7, 8, 123, 11, 12, 9, 10, 1, 13, 1, 23, 7, 10, 5, 4, 2, 21, 10, 11, -1],
        dtype=np.int64,
    )
    glyphs = np.full((21, 79), 2359)
    glyphs[14, 66] = 333
    glyphs[20, 50] = 397  # tame dog
    glyphs[10, 65] = 2360
    glyphs[9, 64] = 2390  # fountain
    glyphs[13, 66] = 2374  # vertical closed door
    return {
        "glyphs": glyphs,
        "blstats": blstats,
        "tty_chars": strs_to_2d(["Hello Agent, welcome to NetHack!  You are a neutral gnomish Caveman."]),
        "inv_letters": str_to_1d("ab\x00"),
        "inv_strs": strs_to_2d(
            [
                "a blessed +1 quarterstaff (weapon in hands)\x00",
                "an uncursed +0 cloak of magic resistance (being worn)\x00",
            ]
        ),
        "tty_cursor": np.array([14 + 1, 66], dtype=np.uint8),
    }


def texts(obs) -> dict[str, str]:
    return {
        "text_glyphs": LANGUAGE.text_glyphs(obs["glyphs"], obs["blstats"]),
        "text_message": LANGUAGE.text_message(obs["tty_chars"]),
        "text_blstats": LANGUAGE.text_blstats(obs["blstats"]),
        "text_inventory": LANGUAGE.text_inventory(obs["inv_strs"], obs["inv_letters"]),
        "text_cursor": LANGUAGE.text_cursor(obs["glyphs"], obs["blstats"], obs["tty_cursor"]),
    }


EXPECTED_INVENTORY = (
    "a: a blessed +1 quarterstaff (weapon in hands)\nb: an uncursed +0 cloak of magic resistance (being worn)"
)
EXPECTED_MESSAGE = "Hello Agent, welcome to NetHack!  You are a neutral gnomish Caveman."


def test_obsv_fake():
    obsv = texts(fake_observation())
    assert obsv["text_glyphs"] == (
        "tame little dog far westsouthwest\n"
        "fountain near northnorthwest\n"
        "dark area very near north\n"
        "vertical closed door adjacent north\n"
        "dark area adjacent northeast, east, southeast, "
        "south, southwest, west, and northwest"
    )
    assert obsv["text_message"] == EXPECTED_MESSAGE
    assert obsv["text_inventory"] == EXPECTED_INVENTORY
    assert obsv["text_blstats"] == (
        "Strength: 1/19\nDexterity: 4\nConstitution: 5\nIntelligence: 6\nWisdom: 7\nCharisma: 8\n"
        "Depth: 9\nGold: 10\nHP: 11/12\nEnergy: 1/13\nAC: 1\nXP: 7/10\nTime: 5\nPosition: 66|14\n"
        "Hunger: Fainting\nMonster Level: 23\nEncumbrance: Stressed\nDungeon Number: 21\n"
        "Level Number: 10\nScore: 123\nAlignment: Chaotic\nCondition: Food Poisoning Slimed Stoned"
    )
    assert obsv["text_cursor"] == "Yourself a monk"


@pytest.mark.parametrize("condition, expected", [(0, "Condition: None"), (2048, "Condition: Flying")])
def test_blstats_condition(condition, expected):
    obs = fake_observation()
    obs["blstats"][25] = condition
    assert expected in texts(obs)["text_blstats"]


def test_multiple_obsv_fake():
    """The wrapper's ``fake_nethack_multiple_monsters_env``."""
    obs = fake_observation()
    obs["blstats"] = np.array([66, 14, 19], dtype=np.uint8)  # only x and y are read
    glyphs = np.full((21, 79), 2359)
    glyphs[14, 66] = 359
    glyphs[14, 18] = 397  # tame dog 1
    glyphs[20, 50] = 397  # tame dog 2
    glyphs[20, 51] = 397  # tame dog 3
    glyphs[10, 65] = 2360
    glyphs[9, 64] = 2390  # fountain
    glyphs[9, 63] = 2390  # fountain
    glyphs[13, 66] = 2374  # vertical closed door
    assert LANGUAGE.text_glyphs(glyphs, obs["blstats"]) == (
        "tame little dog very far west\n"
        "tame little dogs far westsouthwest\n"
        "fountains near northnorthwest\n"
        "dark area very near north\n"
        "vertical closed door adjacent north\n"
        "dark area adjacent northeast, east, "
        "southeast, south, southwest, west, and northwest"
    )


#: ``(glyph put one square east of the agent, expected text_glyphs)`` on a room floor.
ONE_GLYPH = [
    (5653, "kobold statue adjacent east"),
    (5593, "unknown creature causing you alarm adjacent east"),
    (5332, "swallow bottom right adjacent east"),
    (2528, "right slant zap beam adjacent east"),
    (2460, "explosion middle right adjacent east"),
    (1906, "strange object adjacent east"),
    (1917, "elven spear adjacent east"),
    (1988, "gray dragon scale mail adjacent east"),
    (2068, "sapphire ring adjacent east"),
    (2091, "hexagonal amulet adjacent east"),
    (2123, "magic marker adjacent east"),
    (2163, "carrot adjacent east"),
    (2187, "magenta potion adjacent east"),
    (2206, "scroll labeled NR 9 adjacent east"),
    (2250, "mottled spellbook adjacent east"),
    (2291, "crystal wand adjacent east"),
    (2316, "gold piece adjacent east"),
    (2333, "violet amethyst adjacent east"),
    (2353, "boulder adjacent east"),
    (2355, "heavy iron ball adjacent east"),
    (2356, "iron chain adjacent east"),
    (2358, "splash of acid venom adjacent east"),
    (1611, "ridden mastodon adjacent east"),
    (1226, "leocrotta corpse adjacent east"),
    (762, "invisible creature adjacent east"),
    (917, "detected water elemental adjacent east"),
    (613, "tame yeti adjacent east"),
    (255, "iron golem adjacent east"),
]


@pytest.mark.parametrize("glyph, expected", ONE_GLYPH)
def test_one_glyph_on_a_room_floor(glyph, expected):
    obs = fake_observation()
    glyphs = np.full((21, 79), 2378)  # room floor
    glyphs[14, 67] = glyph
    assert LANGUAGE.text_glyphs(glyphs, obs["blstats"]) == expected


#: ``(glyph put twice, 6 and 7 squares east, expected text_glyphs)``: plurals.
PLURALS = [
    (229, "monkeys far east"),
    (99, "ponies far east"),
    (341, "wizards far east"),
    (335, "priestesses far east"),
    (260, "elves far east"),
    (1967, "quarterstaves far east"),
    (2393, "area of lava far east"),
]


@pytest.mark.parametrize("glyph, expected", PLURALS)
def test_plurals(glyph, expected):
    obs = fake_observation()
    glyphs = np.full((21, 79), 2378)
    glyphs[14, 72] = glyph
    glyphs[14, 73] = glyph
    assert LANGUAGE.text_glyphs(glyphs, obs["blstats"]) == expected


# --------------------------------------------------------------------------- test_wrapper_menu.py
SCREEN_MAP = [
    "         -----------------------------------------|           ",
    "         |               @                        |           ",
]

MESSAGES = [
    (
        [
            "   Choose which spell to cast                               ",
            "                                                             ",
            "   Name                 Level Category     Fail Retention   ",
            "   a - healing                1   healing        0%      100%",
            "   (end)                                                     ",
            "                                                      ",
            "                                                      ",
            *SCREEN_MAP,
        ],
        (
            "Choose which spell to cast\nName                 Level Category     Fail Retention\n"
            "a - healing                1   healing        0%      100%\n(end)"
        ),
    ),
    (
        [
            " Things that are here:      ",
            " a goblin corpse             ",
            " an iron skull cap           ",
            " --More--                    ",
            *SCREEN_MAP,
        ],
        "Things that are here:\na goblin corpse\nan iron skull cap\n--More--",
    ),
    ([" It's a wall. ", " ", *SCREEN_MAP], "It's a wall."),
    (
        [" What do you want to drop? [$a-k or ?*] ", " ", *SCREEN_MAP],
        "What do you want to drop? [$a-k or ?*]",
    ),
    (
        [" Where do you want to travel to?  (For instructions type a '?') ", " ", *SCREEN_MAP],
        "Where do you want to travel to?  (For instructions type a '?')",
    ),
    (
        [
            " Extended Commands List    ",
            "                               ",
            " a - Hide commands that don't autocomplete (those not marked with [A])   ",
            " : - Search extended commands      ",
            " ",
            " Extended commands                     ",
            " #                  perform an extended command  ",
            " ?              [A] list all extended commands  ",
            " adjust         [A] adjust inventory letters   ",
            " annotate       [A] name current level  ",
            " (1 of 5) ",
        ],
        (
            "Extended Commands List\na - Hide commands that don't autocomplete (those not marked with [A])\n"
            ": - Search extended commands\nExtended commands\n#                  perform an extended command\n"
            "?              [A] list all extended commands\nadjust         [A] adjust inventory letters\n"
            "annotate       [A] name current level\n(1 of 5)"
        ),
    ),
    (
        [
            " What type of things do you want to take off?    ",
            " ",
            "  a - All worn types                             ",
            " b - Weapons ",
            " c - Armor ",
            " U - Items known to be Uncursed ",
            " (end) ",
            *SCREEN_MAP,
        ],
        (
            "What type of things do you want to take off?\na - All worn types\nb - Weapons\nc - Armor\n"
            "U - Items known to be Uncursed\n(end)"
        ),
    ),
    (
        [
            "                          Voluntary challenges:                  ",
            "                           You have gone without food.              ",
            "                           You have been an atheist.                ",
            "              -----        You have never hit with a wielded weapon.",
            "             #+....######  You have been a pacifist.                ",
            "             #+....######  --More--                ",
        ],
        (
            "Voluntary challenges:\nYou have gone without food.\nYou have been an atheist.\n"
            "You have never hit with a wielded weapon.\nYou have been a pacifist.\n--More--"
        ),
    ),
    ([" "], ""),
    (
        [
            (
                "No  Points     Name                 Hp [max] \n\n0  Agent-Cav-Hum-Mal-Law died in The Dungeons of Doom "
                "on            \n\nlevel 1.  Burned by molten lava.                        -  [16]"
            )
        ],
        (
            "No  Points     Name                 Hp [max] \n\n0  Agent-Cav-Hum-Mal-Law died in The Dungeons of Doom "
            "on            \n\nlevel 1.  Burned by molten lava.                        -  [16]"
        ),
    ),
    (
        [
            "                              What do you want to name? ",
            "                                                        ",
            "---------                     m - a monster ",
            "|........                     i - a particular object in inventory ",
            "|.......|                     o - the type of an object in inventory  ",
            "|....@.%|                     f - the type of an object upon the floor  ",
            "|!...df.|                     d - the type of an object on discoveries list ",
            "|.......+                     a - record an annotation for the current level ",
            "--+------                     (end)",
        ],
        (
            "What do you want to name?\nm - a monster\ni - a particular object in inventory\n"
            "o - the type of an object in inventory\nf - the type of an object upon the floor\n"
            "d - the type of an object on discoveries list\na - record an annotation for the current level\n(end)"
        ),
    ),
    (["doorway      ", "", "      ------------ ", "      |..........| "], "doorway"),
]


@pytest.mark.parametrize("rows, expected", MESSAGES)
def test_text_message(rows, expected):
    assert LANGUAGE.text_message(strs_to_2d(rows, fill_value=32)) == expected


# --------------------------------------------------------------------------- rules, worked by hand
def test_place_names_the_diagonal_part_last():
    assert place(-16, -6) == ("far", "westsouthwest")  # 10 west then 6 southwest
    assert place(0, 2) == ("very near", "north")
    assert place(3, 3) == ("near", "northeast")
    assert place(1, 4) == ("near", "northnortheast")
    assert place(25, 0) == ("very far", "east")


def test_pluralize_follows_the_wrapper():
    assert [
        pluralize(n) for n in ("jackal", "pony", "monkey", "fox", "elf", "staff", "boots", "lava", "lich")
    ] == [
        "jackals",
        "ponies",
        "monkeys",
        "foxes",
        "elves",
        "staves",
        "boots",
        "area of lava",
        "lichs",
    ]


# --------------------------------------------------------------------------- BALROG's layout
def test_balrog_layouts_on_the_fake_observation():
    obs = fake_observation()
    obs["tty_chars"] = strs_to_2d([EXPECTED_MESSAGE, *["x" * 80] * 23], fill_value=32)
    hybrid = balrog_text(LANGUAGE, obs, "hybrid")
    short, _, long = hybrid.partition("\n\nmessage:\n")
    assert short == f"inventory:\n{EXPECTED_INVENTORY}"
    assert long.startswith(
        f"{EXPECTED_MESSAGE}\n\nlanguage observation:\ntame little dog far westsouthwest\n"
    )
    assert (
        "\n\ncursor:\nYourself a monk\n(x=66, y=15)\n\nmap:\n" + "\n".join(["x" * 80] * 23) + "\n\n" in hybrid
    )
    language = balrog_text(LANGUAGE, obs, "language")
    assert language.startswith("statistics:\nStrength: 1/19\n") and "\n\ninventory:\na: a blessed" in language
    assert "map:" not in language and language.endswith("cursor:\nYourself a monk\n")


# --------------------------------------------------------------------------- the env's BALROG views


@pytest.mark.parametrize("view", ["balrog", "nle_language", "message", "language"])
def test_every_text_view_keeps_the_env_contract(view):
    env = agentrl.make("agentrl/MiniHack-v0", task="KeyRoom-S5", text_view=view, max_turns=15)
    try:
        check_text_env(env)
    finally:
        env.close()


def test_balrog_view_of_a_real_game():
    """The view is BALROG's layout of the port's texts on the game's own arrays: inventory, the
    screen's message, the language observation, the cursor on the agent and the terminal map."""
    env = agentrl.make("agentrl/MiniHack-v0", task="KeyRoom-S5", text_view="balrog", action_set="full")
    try:
        observation, _ = env.reset(seed=0)
        obs = env.unwrapped.engine.obs
        assert observation == balrog_text(LANGUAGE, obs, "hybrid")
        assert observation.startswith("inventory:\na: a +0 short sword (weapon in hand)\n")
        assert (
            "message:\nHello Agent, welcome to NetHack!  You are a chaotic male human Rogue.\n" in observation
        )
        assert "\nkey adjacent northwest\n" in observation  # the key is one step north-west (seed 0)
        assert "cursor:\nYourself a rogue\n(x=41, y=12)\n" in observation
        rows = [bytes(row).decode("latin-1") for row in obs["tty_chars"]]
        assert observation.endswith("map:\n" + "\n".join(rows[1:]) + "\n\n")
        # A cancelled prompt changes the terminal but not the game: the view stays as it was.
        before = env.unwrapped.render_text()
        observation, _, _, _, info = env.step("apply lock pick")
        assert not info["action_valid"] and observation.endswith(before)
        observation, _, _, _, info = env.step("northwest")
        assert "message:\nYou see here a key named The Master Key of Thievery.\n" in observation
    finally:
        env.close()
