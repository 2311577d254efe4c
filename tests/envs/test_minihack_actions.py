"""The MiniHack text-action language: a parsing table, and multi-step actions on the real engine."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("minihack")

from nle import nethack

from agentrl.envs.minihack.actions import (
    ALL,
    FORMS,
    VERBS,
    ActionError,
    GameAction,
    action_table,
    parse_action,
)

K = ord
META_P = 0x80 | ord("p")
CTRL_D = 4

# (text, canonical text, keys typed first, item, direction key, menu choice)
VALID = [
    ("north", "north", (K("k"),), None, None, None),
    ("N", "north", (K("k"),), None, None, None),
    ("ne", "northeast", (K("u"),), None, None, None),
    ("North-East", "northeast", (K("u"),), None, None, None),
    ("south west", "southwest", (K("b"),), None, None, None),
    ("move west", "west", (K("h"),), None, None, None),
    ("go east.", "east", (K("l"),), None, None, None),
    ("far east", "far east", (K("L"),), None, None, None),
    ("run sw", "far southwest", (K("B"),), None, None, None),
    ("pick up", "pick up", (K(","),), None, None, ALL),
    ("pickup", "pick up", (K(","),), None, None, ALL),
    ("pick up the key", "pick up key", (K(","),), None, None, "key"),
    ("apply key west", "apply key west", (K("a"),), "key", K("h"), None),
    ("Apply the key to the north", "apply key north", (K("a"),), "key", K("k"), None),
    ("apply e", "apply e", (K("a"),), "e", None, None),  # a lone letter is the item, not east
    ("drop a", "drop a", (K("d"),), "a", None, None),  # a lone "a" is a letter, not an article
    ("apply key e", "apply key east", (K("a"),), "key", K("l"), None),
    ("use lock pick se", "apply lock pick southeast", (K("a"),), "lock pick", K("n"), None),
    ("unlock north", "unlock key north", (K("a"),), "key", K("k"), None),
    ("unlock north with the lock pick", "unlock lock pick north", (K("a"),), "lock pick", K("k"), None),
    ("open the door to the west", "open west", (K("o"),), None, K("h"), None),
    ("kick south", "kick south", (CTRL_D,), None, K("j"), None),
    ("search", "search", (K("s"),), None, None, None),
    ("wait", "wait", (K("."),), None, None, None),
    ("go down", "go down", (K(">"),), None, None, None),
    ("descend", "go down", (K(">"),), None, None, None),
    ("fight north", "fight north", (K("F"), K("k")), None, None, None),
    ("eat", "eat", (K("e"),), None, None, None),
    ("eat the apple", "eat apple", (K("e"),), "apple", None, None),
    ("drink", "quaff", (K("q"),), None, None, None),
    ("zap wand of striking down", "zap wand of striking down", (K("z"),), "wand of striking", K(">"), None),
    ("throw dagger northeast", "throw dagger northeast", (K("t"),), "dagger", K("u"), None),
    ("cast force bolt east", "cast force bolt east", (K("Z"),), None, K("l"), "force bolt"),
    ("pray", "pray", (META_P,), None, None, None),
    ("seearmor", "seearmor", (K("["),), None, None, None),
]

# (text, a fragment of the explanation)
INVALID = [
    ("", "empty"),
    ("   ", "empty"),
    ("dance", "unknown action"),
    ("save", "unknown action"),  # excluded NLE commands are not actions
    ("quit", "unknown action"),
    ("up", "not a map direction"),
    ("left", "not a map direction"),
    ("here", "not a move"),
    ("open", "needs a direction"),
    ("kick the door", "needs a direction"),
    ("apply", "needs an item"),
    ("throw dagger", "needs a direction"),
    ("search the room", "does not take"),
    ("far", "'far' needs one compass direction"),
    ("far up", "'far' needs one compass direction"),
    ("fight", "needs a direction"),
    ("fight down", "needs a compass direction"),
]


@pytest.mark.parametrize("text, canonical, keys, item, direction, select", VALID)
def test_valid_forms(text, canonical, keys, item, direction, select):
    action = parse_action(text)
    assert action == GameAction(canonical, keys, item=item, direction=direction, select=select)


@pytest.mark.parametrize("text, fragment", INVALID)
def test_invalid_forms_explain_themselves(text, fragment):
    error = parse_action(text)
    assert isinstance(error, ActionError)
    assert fragment in error.message


def test_canonical_text_parses_to_the_same_action():
    for text, *_ in VALID:
        action = parse_action(text)
        assert parse_action(action.text) == action, text


def test_every_verb_spelling_is_reachable_and_documented():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "minihack.md").read_text()
    for verb in VERBS:
        assert verb.names[0] in docs, f"docs/minihack.md does not mention {verb.names[0]!r}"
        for name in verb.names:
            text = name + (" x" if verb.item == "req" else "") + (" north" if verb.direction == "req" else "")
            parsed = parse_action(text)
            assert not isinstance(parsed, ActionError), (name, parsed)
            assert parsed.keys[0] == verb.key


def test_every_rl_command_of_nle_has_a_verb():
    from agentrl.envs.minihack.actions import EXCLUDED_COMMANDS

    covered = {verb.key for verb in VERBS}
    missing = [c.name for c in nethack.Command if c not in EXCLUDED_COMMANDS and c not in covered]
    assert missing == []
    assert len(action_table()) == len(VERBS) + 2


# --------------------------------------------------------------------------- on the engine
@pytest.fixture
def keyroom():
    """KeyRoom with every NetHack command (the opt-in full action set), for NetHack's own apply."""
    import agentrl

    env = agentrl.make(
        "agentrl/MiniHack-v0", task="KeyRoom-S5", observation_mode="dict", crop_size=21, action_set="full"
    )
    yield env
    env.close()


def _turn_counter(env) -> int:
    return int(env.unwrapped.engine.obs["blstats"][nethack.NLE_BL_TIME])


def test_multi_step_apply_is_one_action(keyroom):
    """Seed 0: the key is north-west of the start; the door is west of the square north of it."""
    env = keyroom
    env.reset(seed=0)
    env.step("northwest")
    _, _, _, _, info = env.step("pick up")
    assert info["subgoals"]["pick up the key"]
    env.step("north")
    before = _turn_counter(env)
    observation, _, _, _, info = env.step("<answer>apply key west</answer>")
    assert info["action_valid"] and info["action"] == "apply key west"
    # apply, the key's letter, the direction, "Unlock it?" -> y, plus --More-- pages
    assert info["engine_keys"] >= 4
    message = observation["text"].split("\n")[0]
    assert message.endswith("You succeed in unlocking the door.")
    assert "Unlock it?" not in message and "In what direction?" not in message  # answered, not shown
    assert info["subgoals"]["unlock the door"]
    assert _turn_counter(env) > before  # picking a lock takes game time
    observation, _, _, _, info = env.step("open west")
    assert observation["text"].startswith("Message: The door opens.")


def test_missing_argument_cancels_the_prompt_and_changes_nothing(keyroom):
    env = keyroom
    observation, _ = env.reset(seed=0)
    before_time, before_grid = _turn_counter(env), observation["grid"].copy()
    observation, reward, _, _, info = env.step("apply lock pick")
    assert not info["action_valid"]
    assert "gives no direction" in observation["text"]
    assert reward == pytest.approx(env.unwrapped.config.format_penalty)
    assert _turn_counter(env) == before_time
    assert (observation["grid"] == before_grid).all()
    assert not env.unwrapped.engine.internal[1]  # no question left pending


def test_unknown_item_is_refused_without_game_time(keyroom):
    env = keyroom
    env.reset(seed=0)
    before = _turn_counter(env)
    observation, _, _, _, info = env.step("apply key north")  # the key is still on the floor
    assert not info["action_valid"]
    assert "no inventory item matches 'key'" in observation["text"]
    assert "e - an uncursed lock pick" in observation["text"]  # the refusal lists what is held
    assert _turn_counter(env) == before


def test_invalid_text_lists_the_valid_forms(keyroom):
    observation, _ = keyroom.reset(seed=0)
    observation, _, _, _, info = keyroom.step("<answer>dance wildly</answer>")
    assert not info["action_valid"]
    assert "Invalid action: unknown action 'dance wildly'" in observation["text"]
    assert FORMS in observation["text"]


PILE = """
MAZE: "mylevel", ' '
FLAGS:premapped
GEOMETRY:center,center
MAP
-------
|.....|
|.....|
-------
ENDMAP
STAIR:(5,1),down
BRANCH:(1,1,1,1),(0,0,0,0)
OBJECT:('(',"skeleton key"),(2,1)
OBJECT:('%',"apple"),(2,1)
OBJECT:('!',"water"),(2,1)
"""


@pytest.fixture
def pile():
    import agentrl

    env = agentrl.make(  # the full action set: the engine answers the pick-up menu from the action
        "agentrl/MiniHack-v0",
        task="MiniHack-Skill-Custom-v0",
        engine_options={"des_file": PILE, "autopickup": False},
        action_set="full",
    )
    yield env
    env.close()


def _inventory(text: str) -> str:
    return text.split("Inventory:", 1)[1]


def test_pick_up_chooses_from_a_pile_menu(pile):
    observation, _ = pile.reset(seed=0)
    observation, _, _, _, info = pile.step("east")  # onto the pile
    assert "Things that are here:" in observation.split("\n")[0]  # the text window became the message
    observation, _, _, _, info = pile.step("pick up the apple")
    assert info["action_valid"]
    inventory = _inventory(observation)
    assert "apple" in inventory and "key" not in inventory and "potion" not in inventory
    observation, _, _, _, info = pile.step("pick up")
    inventory = _inventory(observation)
    assert "key" in inventory and "potion" in inventory


def test_a_pile_without_the_named_item_is_an_invalid_pick_up(pile):
    pile.reset(seed=0)
    pile.step("east")
    observation, _, _, _, info = pile.step("pick up the sword")
    assert not info["action_valid"]
    assert "nothing in the menu matches 'sword'" in observation
    assert "apple" not in _inventory(observation)
