"""The MiniHack renderer's cached sections give exactly what the stateless functions of ``language`` give."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("minihack")

import agentrl
from agentrl.envs.minihack.language import LanguageRenderer, around, status_line, visible_things

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
