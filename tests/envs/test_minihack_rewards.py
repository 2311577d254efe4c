"""``MiniHackEnv.reward_bounds``: the documented range, worked by hand, and adversarial play against it.

Streams (``(observation, info, turn) -> text``) try to earn more than the range allows: repeating the
rewarded actions (``pick up``, ``apply``, stepping on the stairs), floods of invalid text, the
lock-pick and kick routes through the door, prompt-heavy commands that type many keys, and the
expert. ``check_reward_bounds`` fails on any turn or episode outside the range.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

pytest.importorskip("minihack")

import agentrl
from agentrl.core.check import INVALID_ACTION, check_reward_bounds, default_streams, expert_stream
from agentrl.core.env import RewardBounds
from agentrl.envs.minihack.engine import MAX_KEYS_PER_ACTION


def make(**kwargs):
    return agentrl.make("agentrl/MiniHack-v0", **{"task": "KeyRoom-S5", "max_turns": 30, **kwargs})


# --------------------------------------------------------------------------- the range, by hand
def test_default_keyroom_range():
    env = make(max_turns=20)
    try:
        # task: the win pays 1 once, nothing is lost (reward_lose 0, no time penalty); format: -0.1 a turn
        assert env.unwrapped.reward_bounds() == RewardBounds(step=(-0.1, 1.0), episode=(-2.0, 1.0))
    finally:
        env.close()


def test_range_with_shaping_penalties_and_several_actions_a_turn():
    env = make(max_turns=20, shaping=True, penalty_step=-0.01, action_format={"max_actions": 3})
    try:
        bounds = env.unwrapped.reward_bounds()
    finally:
        env.close()
    keys_per_turn = 3 * MAX_KEYS_PER_ACTION
    key_limit = 32 * 20  # engine_step_limit 0: 32 keys per turn of max_turns
    assert bounds.step == pytest.approx((-0.1 - 0.01 * keys_per_turn, 1.0 + 2.0))  # CALM: key +1, unlock +1
    assert bounds.episode == pytest.approx((-2.0 - 0.01 * key_limit, 1.0 + 2.0))


def test_range_follows_the_engine_s_own_rewards():
    env = make(engine_options={"reward_win": 5.0, "reward_lose": -2.0})
    try:
        assert env.unwrapped.reward_bounds().step == pytest.approx((-2.0 - 0.1, 5.0))
    finally:
        env.close()


@pytest.mark.parametrize("task", ["NetHackScore-v0", "Eat"])
def test_open_ended_rewards_have_no_finite_range(task):
    """NLE's score and MiniHack's reward managers document no bound: the range says so (infinite)."""
    env = make(task=task)
    try:
        assert not env.unwrapped.reward_bounds().finite
    finally:
        env.close()


# --------------------------------------------------------------------------- adversarial play
def repeat(*texts):
    def stream(observation, info, turn):
        return f"<answer>{texts[turn % len(texts)]}</answer>"

    return stream


def invalid_flood(observation, info, turn):
    return INVALID_ACTION if turn % 2 else "<answer>dance</answer>"


def door_routes(side_cycle=("north", "south", "east", "west")):
    """Walk about and throw every door route at every side: lock pick, kicks, #force, apply."""
    routes = [
        "unlock {s} with lock pick",
        "kick {s}",
        "apply lock pick {s}",
        "open {s}",
        "force",
        "apply",
        "{s}",
    ]
    rng = np.random.default_rng(5)

    def stream(observation, info, turn):
        if rng.random() < 0.4:
            return f"<answer>{['north', 'south', 'east', 'west', 'northwest', 'northeast'][rng.integers(6)]}</answer>"
        side = side_cycle[turn % len(side_cycle)]
        return f"<answer>{routes[rng.integers(len(routes))].format(s=side)}</answer>"

    return stream


def prompt_heavy(observation, info, turn):
    """Commands that open questions and menus: the most keys one action can type."""
    texts = [
        "cast force bolt east",
        "apply e",
        "eat",
        "pray",
        "pick up nothing",
        "throw dagger",
        "zap e north",
    ]
    return f"<answer>{texts[turn % len(texts)]}</answer>"


def streams(env):
    return [
        *default_streams(0, env),
        repeat("pick up"),
        repeat("apply"),
        repeat("northwest", "pick up", "pick up", "apply", "apply"),
        invalid_flood,
        door_routes(),
        prompt_heavy,
    ]


@pytest.mark.parametrize(
    "kwargs",
    [
        {},
        {"shaping": True},
        {"shaping": True, "penalty_step": -0.01, "action_format": {"max_actions": 3, "separator": "||"}},
        {"action_set": "full", "shaping": True, "penalty_step": -0.01},
        {"task": "Room-5x5", "penalty_step": -0.01},
        {"task": "Corridor-R2", "action_set": "full"},
    ],
)
def test_adversarial_streams_stay_in_the_documented_range(kwargs):
    grid = {"observation_mode": "dict", "crop_size": 21}  # lets the expert stream run too
    env = make(**grid, **kwargs)
    try:
        assert env.unwrapped.reward_bounds().finite
        check_reward_bounds(env, streams(env), episodes=2, seed=0)
    finally:
        env.close()


def test_repeating_the_paid_actions_pays_once():
    """Shaping pays the key and the unlock once each; the win once: the expert's return is exactly 3."""
    env = make(shaping=True, observation_mode="dict", crop_size=21)
    try:
        stream = expert_stream(env)
        observation, info = env.reset(seed=0)
        total, turn, done = 0.0, 0, False
        while not done:
            observation, reward, terminated, truncated, info = env.step(stream(observation, info, turn))
            total, turn, done = total + reward, turn + 1, terminated or truncated
        assert info["success"] and total == pytest.approx(3.0)
        again = repeat("northwest", "pick up", "pick up", "pick up", "apply", "apply", "apply")
        observation, info = env.reset(seed=0)
        shaping = [
            env.step(again(observation, info, t))[4]["reward_components"].get("shaping", 0.0)
            for t in range(7)
        ]
        assert shaping == [0.0, 1.0, 0.0, 0.0, 1.0, 0.0, 0.0]
    finally:
        env.close()


def test_no_action_types_more_keys_than_the_bound():
    env = make(action_set="full", max_turns=60)
    rng = np.random.default_rng(2)
    texts = [
        "cast force bolt east",
        "apply e",
        "eat",
        "pray",
        "throw dagger",
        "zap e north",
        "#force",
        "loot",
        "pick up",
        "read e",
        "wear a",
        "dip e",
        "offer",
        "untrap north",
        "chat north",
        "far west",
    ]
    try:
        most = 0
        for seed in range(3):
            env.reset(seed=seed)
            done = False
            while not done:
                _, _, terminated, truncated, info = env.step(texts[rng.integers(len(texts))])
                most = max(most, info.get("engine_keys", 0))
                done = terminated or truncated
        assert 2 <= most <= MAX_KEYS_PER_ACTION
    finally:
        env.close()
    assert math.isfinite(MAX_KEYS_PER_ACTION)
