"""``agentrl/MiniHack-v0`` on the real NLE engine: conformance, determinism, observations, limits."""

from __future__ import annotations

import re
import warnings

import numpy as np
import pytest

pytest.importorskip("minihack")

import gymnasium as gym
from gymnasium.utils.env_checker import check_env
from nle import nethack

import agentrl
from agentrl.core.config import ConfigError
from agentrl.core.policy import PolicyInput, RandomPolicy
from agentrl.envs.minihack.actions import COMPASS, COMPASS_OFFSETS
from agentrl.envs.minihack.language import (
    BLANK,
    Cropper,
    _strength,
    crop_around,
    describe_at,
    offset_phrase,
)
from agentrl.envs.minihack.tasks import NAMED_TASKS, minihack_id, resolve_task

ENV_ID = "agentrl/MiniHack-v0"


def make(**kwargs):
    return agentrl.make(ENV_ID, **kwargs)


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"observation_mode": "dict"},
        {"observation_mode": "dict", "grid": "chars", "text_view": "message", "task": "River"},
        {"task": "MazeWalk-9x9", "map_crop": 7, "show_tty": True},
    ],
)
def test_check_env_passes(kwargs):
    env = make(**kwargs)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            check_env(env.unwrapped, skip_render_check=False)
        assert [str(w.message) for w in caught] == []
    finally:
        env.close()


@pytest.mark.parametrize(
    "kwargs",
    [
        {"action_set": "full"},
        {"observation_mode": "dict", "crop_size": 21},
        {"task": "Corridor-R3"},
        {"task": "River", "action_set": "full", "shaping": True},
        {"task": "MiniHack-Navigation-Custom-v0", "engine_options": {"des_file": "LAVA"}},
    ],
)
def test_text_env_contract_holds_across_configurations(kwargs):
    from agentrl.core.check import check_text_env

    if kwargs.get("engine_options"):
        kwargs = {**kwargs, "engine_options": {"des_file": LAVA}}
    env = make(max_turns=15, **kwargs)
    try:
        check_text_env(env)
    finally:
        env.close()


def _play(env, seed, actions):
    observation, info = env.reset(seed=seed)
    record = [(observation, info)]
    for action in actions:
        observation, reward, terminated, truncated, info = env.step(action)
        record.append((observation, reward, terminated, truncated, info))
        if terminated or truncated:
            break
    return record


SCRIPT = [
    "east",
    "north",
    "far west",
    "search",
    "pick up",
    "southwest",
    "dance",
    "south",
    "apply key north",
    "wait",
]


@pytest.mark.parametrize("task", ["KeyRoom-S5", "Room-Monster-15x15", "River"])
def test_seeded_runs_are_deterministic(task):
    first, second = make(task=task), make(task=task)
    try:
        a = _play(first, 7, SCRIPT)
        b = _play(second, 7, SCRIPT)
        assert a == b
        assert _play(first, 7, SCRIPT) == a  # and again on a used env
    finally:
        first.close()
        second.close()


def test_different_seeds_give_different_levels():
    env = make(task="KeyRoom-S5")
    try:
        screens = {env.reset(seed=seed)[0].split("Status:")[0] for seed in range(5)}
        assert len(screens) > 1
    finally:
        env.close()


def test_every_named_task_is_a_registered_minihack_id():
    for name in NAMED_TASKS:
        spec = resolve_task(name)
        assert spec.env_id == minihack_id(name) and spec.env_id in gym.registry
    assert resolve_task("KeyRoom-S5").family == "KeyRoom"
    assert resolve_task("MiniHack-Room-Dark-5x5-v0").family == "Room"
    assert resolve_task("NetHackScore-v0").family == "generic"
    assert resolve_task("Eat").env_id == "MiniHack-Eat-v0"


def test_unknown_task_lists_the_choices():
    with pytest.raises(ConfigError) as excinfo:
        make(task="KeyRom-S5")
    message = str(excinfo.value)
    assert "Unknown MiniHack task 'KeyRom-S5'" in message
    assert "Did you mean 'KeyRoom-S5'" in message
    assert "Room-15x15" in message


def test_bad_config_values_are_explained():
    with pytest.raises(ConfigError, match="observation_mode must be one of text, dict"):
        make(observation_mode="pixels")
    with pytest.raises(ConfigError, match="crop_size must be odd"):
        make(crop_size=8)
    with pytest.raises(ConfigError, match="shaping_rewards names unknown subgoals"):
        make(shaping_rewards={"find the key": 1.0})
    with pytest.raises(ConfigError, match="subgoal_checks names unknown subgoals"):
        make(subgoal_checks=["win"])
    with pytest.raises(ConfigError, match="unknown key"):
        make(crop=9)
    with pytest.raises(ConfigError, match="engine_options: MiniHack-KeyRoom-S5-v0 rejected them"):
        make(engine_options={"bogus": 1})


def test_expert_needs_the_glyph_grid():
    from agentrl.eval.policy_specs import make_policy

    env = make()
    try:
        with pytest.raises(ConfigError, match="observation_mode='dict'"):
            make_policy("expert", env)
    finally:
        env.close()


@pytest.mark.parametrize("task", [*NAMED_TASKS, "Eat", "MiniHack-Wield-Distr-v0", "NetHackScore-v0"])
def test_every_task_survives_random_and_garbage_actions(task):
    env = make(task=task, max_turns=25)
    policy = RandomPolicy(seed=1)
    try:
        observation, info = env.reset(seed=3)
        names = env.unwrapped.subgoals()
        for turn in range(25):
            text = (
                policy.act([PolicyInput(observation, info=info)])[0].text
                if turn % 5
                else "}{ ?? not an action"
            )
            observation, reward, terminated, truncated, info = env.step(text)
            assert set(info["subgoals"]) == set(names)
            assert 0.0 <= info["progress"] <= 1.0
            if turn % 5 == 0:
                assert not info["action_valid"]
            elif not info["action_valid"]:  # e.g. "unlock west" with no key in hand: refused, explained
                assert "Invalid action:" in (
                    observation if isinstance(observation, str) else observation["text"]
                )
            assert np.isfinite(reward)
            if terminated or truncated:
                break
        assert truncated or terminated
        assert not (truncated and terminated)
    finally:
        env.close()


def test_language_observation_sections_and_offsets():
    env = make(task="KeyRoom-S5")
    try:
        text, _ = env.reset(seed=0)
        lines = text.split("\n")
        assert lines[0].startswith("Message: ")
        assert lines[1] == "Visible:"
        assert any(line.startswith("Around you: ") for line in lines)
        assert any(line.startswith("Status: HP ") for line in lines)
        assert "Inventory:" in lines and "a - a +0 short sword (weapon in hand)" in lines
        # Every notable square is listed with its true offset from the agent (read off the glyph map).
        obs = env.unwrapped.engine.obs
        ax, ay = int(obs["blstats"][nethack.NLE_BL_X]), int(obs["blstats"][nethack.NLE_BL_Y])
        door = nethack.GLYPH_CMAP_OFF + 15, nethack.GLYPH_CMAP_OFF + 16
        ys, xs = np.nonzero(np.isin(obs["glyphs"], door))
        assert len(xs) == 1
        assert f"- closed door: {offset_phrase(int(xs[0]) - ax, int(ys[0]) - ay)}" in lines
    finally:
        env.close()


def test_status_line_agrees_with_the_terminal():
    env = make(task="Room-5x5")
    try:
        text, _ = env.reset(seed=2)
        bottom = " ".join(row.tobytes().decode() for row in env.unwrapped.engine.obs["tty_chars"][22:24])
        status = next(line for line in text.split("\n") if line.startswith("Status:"))
        hp, hpmax = re.search(r"HP:(\d+)\((\d+)\)", bottom).groups()
        dlvl = re.search(r"Dlvl:(\d+)", bottom).group(1)
        strength = re.search(r"St:(\S+)", bottom).group(1)
        armour = re.search(r"AC:(-?\d+)", bottom).group(1)
        assert f"HP {hp}/{hpmax}" in status
        assert f"Dlvl {dlvl}" in status
        assert f"St {strength}," in status
        assert f"AC {armour}" in status
    finally:
        env.close()


def test_strength_display_follows_nethack():
    assert [_strength(v) for v in (3, 18, 19, 68, 117, 118, 119, 125)] == [
        "3",
        "18",
        "18/01",
        "18/50",
        "18/99",
        "18/**",
        "19",
        "25",
    ]


def test_offset_phrases():
    assert offset_phrase(0, -3) == "3 north"
    assert offset_phrase(2, 2) == "2 southeast"
    assert offset_phrase(-1, 1) == "1 southwest (adjacent)"
    assert offset_phrase(3, -1) == "1 north, 3 east (3 moves)"
    assert offset_phrase(-2, 5) == "5 south, 2 west (5 moves)"


@pytest.mark.parametrize(
    "task, seed", [("KeyRoom-S5", 0), ("River", 1), ("Corridor-R3", 2), ("Room-Trap-15x15", 3)]
)
def test_square_names_match_nle_screen_descriptions(task, seed):
    """The fixed names used for map symbols are what NLE's farlook descriptions say."""
    env = make(task=task)
    try:
        env.reset(seed=seed)
        for move in ("east", "south", "east", "north"):
            env.step(move)
        obs = env.unwrapped.engine.obs
        height, width = obs["glyphs"].shape
        for y in range(height):
            for x in range(width):
                nle_name = obs["screen_descriptions"][y, x].tobytes().partition(b"\0")[0].decode()
                assert describe_at(obs, x, y) == (nle_name or BLANK), (x, y)
    finally:
        env.close()


def test_dict_observation_is_a_glyph_crop_around_the_agent():
    env = make(task="KeyRoom-S5", observation_mode="dict", crop_size=5)
    try:
        observation, _ = env.reset(seed=0)
        grid = observation["grid"]
        assert grid.shape == (5, 5) and grid.dtype == np.int16
        assert env.observation_space.contains(observation)
        obs = env.unwrapped.engine.obs
        ax, ay = int(obs["blstats"][nethack.NLE_BL_X]), int(obs["blstats"][nethack.NLE_BL_Y])
        assert grid[2, 2] == obs["glyphs"][ay, ax] and nethack.glyph_is_monster(int(grid[2, 2]))
        assert (grid == obs["glyphs"][ay - 2 : ay + 3, ax - 2 : ax + 3]).all()
    finally:
        env.close()


def test_cropper_matches_crop_around_at_every_edge():
    rng = np.random.default_rng(0)
    glyphs = rng.integers(0, 5000, size=(21, 79)).astype(np.int16)
    crop = Cropper((21, 79), 9, nethack.NO_GLYPH, np.int16)
    for x, y in [(0, 0), (78, 20), (0, 20), (78, 0), (40, 10), (3, 17)]:
        expected = crop_around(glyphs, x, y, 9, nethack.NO_GLYPH)
        assert (crop(glyphs, x, y) == expected).all()
        assert expected[4, 4] == glyphs[y, x]
    assert (crop_around(glyphs, 0, 0, 9, nethack.NO_GLYPH)[:4, :] == nethack.NO_GLYPH).all()


def test_turn_limit_truncates():
    env = make(task="KeyRoom-S5", max_turns=3)
    try:
        env.reset(seed=0)
        results = [env.step("search")[2:4] for _ in range(3)]
        assert results == [(False, False), (False, False), (False, True)]
    finally:
        env.close()


def test_engine_step_limit_truncates_and_does_not_terminate():
    env = make(task="KeyRoom-S5", engine_step_limit=2, action_set="full")
    try:
        env.reset(seed=0)
        assert env.step("search")[2:4] == (False, False)
        observation, _, terminated, truncated, info = env.step("search")
        assert (terminated, truncated, info["success"]) == (False, True, False)
        assert "step limit" in observation
        with pytest.raises(RuntimeError, match="after the episode ended"):
            env.step("search")
    finally:
        env.close()


LAVA = """
MAZE: "mylevel", ' '
FLAGS:premapped
GEOMETRY:center,center
MAP
-------
|.L...|
|.....|
-------
ENDMAP
STAIR:(5,1),down
BRANCH:(1,1,1,1),(0,0,0,0)
"""


def test_death_terminates_without_success():
    env = make(task="MiniHack-Navigation-Custom-v0", engine_options={"des_file": LAVA, "reward_lose": -1.0})
    try:
        observation, _ = env.reset(seed=0)
        assert "- molten lava: 1 east (adjacent)" in observation
        observation, _, terminated, truncated, info = env.step("east")
        assert (terminated, truncated, info["success"]) == (True, False, False)
        assert info["end_status"] == "DEATH" and "you died" in observation
        assert info["reward_components"]["task"] == pytest.approx(-1.0)
        assert info["subgoals"] == {"reach the stairs": False}
    finally:
        env.close()


def test_instructions_name_the_goal_and_the_action_forms():
    env = make(task="KeyRoom-S5")
    try:
        text = env.unwrapped.instructions()
        assert "KeyRoom-S5" in text and "'apply' unlocks and opens it with the key" in text
        assert "pick up [item]" in text and "kick" not in text  # MiniHack's KeyRoom actions only
        assert "<answer></answer>" in text
    finally:
        env.close()
    env = make(task="KeyRoom-S5", action_set="full")
    try:
        text = env.unwrapped.instructions()
        assert "unlock <direction> [with <item>]" in text and "kick" in text
    finally:
        env.close()


def test_available_actions_follow_minihack_s_action_sets():
    cases = {
        "Room-5x5": [*COMPASS],
        "KeyRoom-S5": [*COMPASS, "pick up"],
        "Corridor-R3": [*COMPASS, "search"],
    }
    for task, expected in cases.items():
        env = make(task=task)
        try:
            _, info = env.reset(seed=0)
            assert info["available_actions"] == expected
        finally:
            env.close()


@pytest.mark.parametrize(
    "task, action_set",
    [("KeyRoom-S5", "task"), ("KeyRoom-S5", "full"), ("Corridor-R2", "task"), ("KeyRoom-Dark-S5", "task")],
)
def test_every_listed_action_is_valid_now(task, action_set):
    """Random play that picks listed actions, door actions first: none is ever refused, and the door
    actions listed are exactly those the set has toward the closed doors next to the agent (KeyRoom's
    ``apply`` and the full set's ``unlock`` only with a key in hand)."""
    env = make(task=task, action_set=action_set, max_turns=60)
    rng = np.random.default_rng(0)
    door_turns = 0
    try:
        for seed in range(6):
            _, info = env.reset(seed=seed)
            done = False
            while not done:
                actions = info["available_actions"]
                door = [a for a in actions if a.split()[0] in ("apply", "unlock", "open", "kick")]
                assert sorted(door) == sorted(_expected_door_actions(env.unwrapped, task, action_set))
                door_turns += bool(door)
                pick = door if door and rng.random() < 0.7 else actions
                choice = pick[rng.integers(len(pick))]
                _, _, terminated, truncated, info = env.step(choice)
                assert info["action_valid"], (choice, info)
                done = terminated or truncated
        assert door_turns > 0
    finally:
        env.close()


def _expected_door_actions(base, task, action_set) -> list[str]:
    """Worked out from the glyph map and the inventory text, independently of the env's code."""
    if base.engine.done:
        return []
    obs = base.engine.obs
    x, y = int(obs["blstats"][nethack.NLE_BL_X]), int(obs["blstats"][nethack.NLE_BL_Y])
    closed = {nethack.GLYPH_CMAP_OFF + 15, nethack.GLYPH_CMAP_OFF + 16}
    sides = [
        side for side, (dx, dy) in COMPASS_OFFSETS.items()
        if 0 <= y + dy < obs["glyphs"].shape[0] and int(obs["glyphs"][y + dy, x + dx]) in closed
    ]
    key_held = any("key" in row.tobytes().decode("latin-1") for row in obs["inv_strs"])
    if task.startswith("Corridor"):
        return [f"{verb} {side}" for side in sides for verb in ("open", "kick")]
    if action_set == "task":
        return ["apply"] if sides and key_held else []
    return [f"{verb} {side}" for side in sides for verb in ("open", "kick")] + (
        [f"unlock {side}" for side in sides] if key_held else []
    )
