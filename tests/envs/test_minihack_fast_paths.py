"""The MiniHack renderer's cached sections give exactly what the stateless functions of ``language`` give."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("minihack")

import agentrl
from agentrl.envs.minihack.env import closed_door_sides
from agentrl.envs.minihack.language import LanguageRenderer, around, status_line, visible_things
from agentrl.envs.minihack.mapdiff import MapChanges
from agentrl.envs.minihack.subgoals import GLYPH_CLASSES

#: Valid moves and commands, garbage, several actions in one turn, prompts the action cannot answer.
ACTIONS = [
    *(f"<answer>{move}</answer>" for move in ("north", "east", "south", "west", "northeast", "southwest")),
    "<answer>pick up</answer>",
    "<answer>search</answer>",
    "<answer>apply key west</answer>",
    "<answer>unlock north</answer>",
    "<answer>open east</answer>",
    "<answer>kick south</answer>",
    "<answer>dance</answer>",
    "no tags at all",
    "<answer>north</answer><answer>east</answer>",
]


def _same(first, second) -> None:
    if isinstance(first, dict):
        assert first.keys() == second.keys()
        for key in first:
            _same(first[key], second[key])
    elif isinstance(first, (tuple, list)):
        assert type(first) is type(second) and len(first) == len(second)
        for mine, theirs in zip(first, second):
            _same(mine, theirs)
    elif isinstance(first, np.ndarray):
        np.testing.assert_array_equal(first, second)
    else:
        assert first == second


@pytest.mark.parametrize("task", ["KeyRoom-S5", "Room-Monster-15x15", "Room-Dark-15x15", "River"])
def test_renderer_sections_equal_the_stateless_functions(task):
    env = agentrl.make("agentrl/MiniHack-v0", task=task, action_set="full").unwrapped  # commands, prompts
    renderer = LanguageRenderer(max_per_kind=2)
    rng = np.random.default_rng(5)
    try:
        for seed in range(3):
            env.reset(seed=seed)
            for _ in range(80):
                obs = env.engine.obs
                x, y = env._position()
                assert renderer.visible(obs, x, y) == visible_things(obs, max_per_kind=2)
                assert renderer.around(obs, x, y) == around(obs)
                assert renderer.status(obs["blstats"]) == status_line(obs["blstats"])
                _, _, terminated, truncated, _ = env.step(ACTIONS[rng.integers(9)])
                if terminated or truncated:
                    break
    finally:
        env.close()


def _door_sides_by_hand(glyphs: np.ndarray, x: int, y: int) -> list[str]:
    """Independently of the env: the neighbours showing a closed door, row by row from north-west."""
    sides = {(-1, -1): "northwest", (0, -1): "north", (1, -1): "northeast", (-1, 0): "west",
             (1, 0): "east", (-1, 1): "southwest", (0, 1): "south", (1, 1): "southeast"}
    height, width = glyphs.shape
    return [
        sides[(dx, dy)]
        for dy in (-1, 0, 1)
        for dx in (-1, 0, 1)
        if (dx, dy) != (0, 0)
        and 0 <= x + dx < width
        and 0 <= y + dy < height
        and int(glyphs[y + dy, x + dx]) in GLYPH_CLASSES["closed door"]
    ]


@pytest.mark.parametrize("task", ["KeyRoom-S5", "Corridor-R3"])
def test_door_sides_remembered_per_block_equal_the_stateless_check(task):
    """The env's per-3x3-block cache of the closed doors next to the agent gives what the stateless
    function and a by-hand check give, at every step of seeded games (doors opened, keys held)."""
    env = agentrl.make("agentrl/MiniHack-v0", task=task, action_set="full", max_turns=150).unwrapped
    rng = np.random.default_rng(3)
    door_steps = 0
    try:
        for seed in range(4):
            env.reset(seed=seed)
            while not env.engine.done:
                glyphs = env.engine.obs["glyphs"]
                x, y = env._position()
                by_hand = _door_sides_by_hand(glyphs, x, y)
                assert list(env._door_sides(glyphs, x, y)) == by_hand
                assert list(closed_door_sides(glyphs, x, y)) == by_hand
                door_steps += bool(by_hand)
                choices = [a for a in env.available_actions() if a.split()[0] in ("open", "kick", "unlock")]
                pool = choices if choices and rng.random() < 0.5 else list(ACTIONS)
                _, _, terminated, truncated, _ = env.step(pool[rng.integers(len(pool))])
                if terminated or truncated:
                    break
    finally:
        env.close()
    assert door_steps > 0


def test_map_changes_equal_a_whole_map_compare():
    """``MapChanges.since_last`` lists exactly the squares whose glyph differs from the previous look."""
    env = agentrl.make("agentrl/MiniHack-v0", task="Room-Monster-15x15", max_turns=100).unwrapped
    changes, rng = MapChanges(), np.random.default_rng(4)
    try:
        for seed in range(2):
            env.reset(seed=seed)
            changes.forget()
            assert changes.since_last(env.engine.obs["glyphs"]) is None
            previous = env.engine.obs["glyphs"].copy()
            for _ in range(100):
                _, _, terminated, truncated, _ = env.step(ACTIONS[rng.integers(6)])
                if terminated or truncated:
                    break
                glyphs = env.engine.obs["glyphs"]
                assert changes.since_last(glyphs) == np.flatnonzero(glyphs != previous).tolist()
                previous = glyphs.copy()
    finally:
        env.close()


@pytest.mark.parametrize("task", ["KeyRoom-S5", "Room-Monster-15x15", "KeyRoom-Dark-S5"])
def test_env_language_view_equals_the_stateless_functions(task):
    """The env's own renderer (its scene and description caches, fed one state after the other) gives
    the sections the stateless functions give, over seeded games with random moves (the agent steps
    on and off the stairs and the key, monsters move)."""
    env = agentrl.make("agentrl/MiniHack-v0", task=task, max_turns=200).unwrapped
    rng = np.random.default_rng(6)
    try:
        for seed in range(3):
            observation, _ = env.reset(seed=seed)
            while True:
                if not env.engine.done:
                    obs = env.engine.obs
                    expected = visible_things(obs, max_per_kind=env.config.max_per_kind)
                    lines = observation.splitlines()
                    start = next(i for i, line in enumerate(lines) if line.startswith("Visible:"))
                    shown = lines[start + 1 : start + 1 + len(expected)] if expected else []
                    assert lines[start] == ("Visible:" if expected else "Visible: nothing of note")
                    assert shown == expected
                    assert lines[start + 1 + len(expected)] == f"Around you: {around(obs)}"
                observation, _, terminated, truncated, _ = env.step(ACTIONS[rng.integers(6)])
                if terminated or truncated:
                    break
    finally:
        env.close()
