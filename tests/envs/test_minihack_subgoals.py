"""Subgoal oracles on real MiniHack games: a scripted KeyRoom-S5 run, shaping, and CALM credit."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("minihack")

import agentrl
from agentrl.rollout import EpisodeSpec, run_episodes
from agentrl.core.trajectory import observation_text
from agentrl.envs.minihack.subgoals import CALM_SHAPING

KEYROOM_SUBGOALS = [
    "pick up the key",
    "unlock the door",
    "open the door",
    "find the stairs",
    "reach the stairs",
]


def keyroom(**kwargs):
    return agentrl.make(
        "agentrl/MiniHack-v0", task="KeyRoom-S5", observation_mode="dict", crop_size=21, **kwargs
    )


def expert_rollout(env, seeds):
    return run_episodes([env], env.unwrapped.expert_policy(), [EpisodeSpec(seed=seed) for seed in seeds])


def _after(trajectory, t):
    """The text the agent saw right after turn ``t``."""
    nxt = (
        trajectory.turns[t + 1].observation if t + 1 < len(trajectory.turns) else trajectory.final_observation
    )
    return observation_text(nxt)


def _first_turn(trajectory, predicate):
    return next(t for t in range(len(trajectory.turns)) if predicate(_after(trajectory, t)))


def _holds_key(text):
    return bool(re.search(r"^[a-z] - .*\bkey\b", text.split("Inventory:", 1)[-1], re.MULTILINE))


def _message(text):
    return text.split("\n", 1)[0]


@pytest.mark.parametrize("seed", [0, 1, 3])
def test_scripted_keyroom_fires_each_subgoal_once_at_the_right_turn(seed):
    env = keyroom()
    try:
        (trajectory,) = expert_rollout(env, [seed])
    finally:
        env.close()
    assert trajectory.success and trajectory.turns[-1].terminated and not trajectory.truncated
    assert trajectory.info["subgoals"] == KEYROOM_SUBGOALS
    fired = {
        name: [t for t, turn in enumerate(trajectory.turns) if turn.info["subgoals"][name]]
        for name in KEYROOM_SUBGOALS
    }
    assert all(len(turns) == 1 for turns in fired.values()), fired
    # The right turns, read independently off what the agent saw:
    assert fired["pick up the key"] == [_first_turn(trajectory, _holds_key)]
    assert trajectory.turns[fired["pick up the key"][0]].info["action"] == "pick up"
    assert fired["unlock the door"] == [
        _first_turn(trajectory, lambda text: "You succeed in unlocking the door." in _message(text))
    ]
    assert trajectory.turns[fired["unlock the door"][0]].info["action"] == "apply"  # MiniHack's KeyRoom apply
    assert fired["open the door"] == [
        _first_turn(trajectory, lambda text: "The door opens." in _message(text))
    ]
    assert fired["find the stairs"] == [_first_turn(trajectory, lambda text: "- staircase down:" in text)]
    assert fired["reach the stairs"] == [len(trajectory.turns) - 1]
    order = [fired[name][0] for name in KEYROOM_SUBGOALS]
    assert order == sorted(order)
    progress = [turn.info["progress"] for turn in trajectory.turns]
    assert progress == sorted(progress) and progress[-1] == 1.0
    assert progress[fired["pick up the key"][0]] == pytest.approx(1 / 5)


def test_subgoals_visible_at_the_start_are_left_out():
    env = agentrl.make("agentrl/MiniHack-v0", task="Room-5x5")  # lit room: the stairs are in view
    try:
        env.reset(seed=0)
        assert env.unwrapped.subgoals() == ["reach the stairs"]
    finally:
        env.close()
    env = agentrl.make("agentrl/MiniHack-v0", task="Room-Dark-15x15")
    try:
        env.reset(seed=0)
        assert env.unwrapped.subgoals() == ["find the stairs", "reach the stairs"]
    finally:
        env.close()


def test_tasks_without_a_stairs_goal_have_no_stairs_subgoals():
    env = agentrl.make("agentrl/MiniHack-v0", task="Eat")
    try:
        env.reset(seed=0)
        assert env.unwrapped.subgoals() == []
    finally:
        env.close()


def test_calm_rule_shaping_pays_key_and_first_unlock():
    env = keyroom(shaping=True)
    try:
        (trajectory,) = expert_rollout(env, [0])
    finally:
        env.close()
    shaping = [turn.reward_components["shaping"] for turn in trajectory.turns]
    key_turn = next(t for t, turn in enumerate(trajectory.turns) if turn.info["subgoals"]["pick up the key"])
    unlock_turn = next(
        t for t, turn in enumerate(trajectory.turns) if turn.info["subgoals"]["unlock the door"]
    )
    expected = [0.0] * len(trajectory.turns)
    expected[key_turn] = CALM_SHAPING["pick up the key"]
    expected[unlock_turn] = CALM_SHAPING["unlock the door"]
    assert shaping == expected
    assert trajectory.turns[-1].reward_components["task"] == pytest.approx(1.0)  # MiniHack's win reward
    assert trajectory.total_reward == pytest.approx(3.0)


def test_shaping_is_off_by_default():
    env = keyroom()
    try:
        (trajectory,) = expert_rollout(env, [0])
    finally:
        env.close()
    assert all("shaping" not in turn.reward_components for turn in trajectory.turns)
    assert trajectory.total_reward == pytest.approx(1.0)


def test_calm_credit_with_the_oracle_judge_pays_beta_at_each_new_subgoal():
    rewards = pytest.importorskip("agentrl.rewards")
    from agentrl.judges import OracleJudge

    env = keyroom()
    try:
        batch = expert_rollout(env, [0, 1])
    finally:
        env.close()
    raw = [[turn.reward for turn in trajectory.turns] for trajectory in batch]
    fired = [[sum(turn.info["subgoals"].values()) for turn in trajectory.turns] for trajectory in batch]
    stage = rewards.CALMCredit(judge=OracleJudge(), beta=1.0)
    try:
        batch = stage(batch)
    finally:
        stage.close()
    for trajectory, raw_rewards, counts in zip(batch, raw, fired):
        calm = [turn.fields["calm"] for turn in trajectory.turns]
        assert calm == [1.0 * n for n in counts]  # beta on each turn where subgoals are newly achieved
        assert sum(calm) == len(trajectory.info["subgoals"]) == 5
        assert [turn.fields["reward"] for turn in trajectory.turns] == pytest.approx(
            [r + c for r, c in zip(raw_rewards, calm)]
        )
        assert [turn.reward for turn in trajectory.turns] == raw_rewards  # raw rewards untouched
    assert batch.metrics["calm/judge_errors"] == 0
    assert batch.metrics["calm/achieved"] == 10


def custom_level(des: str, checks: list[str], **kwargs):
    """A custom navigation level with every NetHack command (its own action set has only the moves)."""
    return agentrl.make(
        "agentrl/MiniHack-v0",
        task="MiniHack-Navigation-Custom-v0",
        engine_options={"des_file": des},
        subgoal_checks=checks,
        action_set="full",
        **kwargs,
    )


MOAT = """
MAZE: "mylevel", ' '
FLAGS:premapped
GEOMETRY:center,center
MAP
--------
|...}..|
|...}..|
--------
ENDMAP
STAIR:(6,1),down
BRANCH:(1,1,1,1),(0,0,0,0)
OBJECT:('`',"boulder"),(2,1)
"""


def test_boulder_into_water_fires_when_the_water_is_filled():
    env = custom_level(MOAT, ["push a boulder into the water", "reach the stairs"])
    try:
        env.reset(seed=0)
        fired, messages = [], []
        for _ in range(5):
            observation, _, terminated, _, info = env.step("east")
            fired.append(info["subgoals"]["push a boulder into the water"])
            messages.append(observation.split("\n")[0])
            if terminated:
                break
    finally:
        env.close()
    assert fired == [False, True, False, False, False]
    assert "Now you can cross it!" in messages[1]  # NetHack's own words for the filled square
    assert info["success"] and info["subgoals"]["reach the stairs"]


NEWT = """
MAZE: "mylevel", ' '
FLAGS:premapped
GEOMETRY:center,center
MAP
-------
|.....|
-------
ENDMAP
STAIR:(5,1),down
BRANCH:(1,1,1,1),(0,0,0,0)
MONSTER:(':',"newt"),(2,1),hostile,asleep
"""


def test_kill_a_monster_fires_on_the_kill():
    env = custom_level(NEWT, ["kill a monster"])
    try:
        observation, _ = env.reset(seed=0)
        assert "- newt: 1 east (adjacent)" in observation
        fired, messages = [], []
        for _ in range(20):
            observation, _, _, _, info = env.step("fight east")
            fired.append(info["subgoals"]["kill a monster"])
            messages.append(observation.split("\n")[0])
            if "newt" not in observation.split("Around you:")[1].split("\n")[0]:
                break
    finally:
        env.close()
    assert fired.count(True) == 1
    assert "You kill the newt!" in messages[fired.index(True)]


def test_enter_a_corridor_fires_on_the_first_step_onto_a_corridor():
    from agentrl.envs.minihack.actions import COMPASS_OFFSETS
    from agentrl.envs.minihack.subgoals import GLYPH_CLASSES

    env = agentrl.make(
        "agentrl/MiniHack-v0", task="Corridor-R3", observation_mode="dict", crop_size=21, max_turns=40
    )
    try:
        (trajectory,) = expert_rollout(env, [0])
    finally:
        env.close()
    fired = [t for t, turn in enumerate(trajectory.turns) if turn.info["subgoals"]["enter a corridor"]]
    assert len(fired) == 1

    def onto_corridor(turn):
        """Whether the move's target square showed a corridor before the move."""
        if turn.info["action"] not in COMPASS_OFFSETS:
            return False
        dx, dy = COMPASS_OFFSETS[turn.info["action"]]
        grid = turn.observation["grid"]
        centre = grid.shape[0] // 2
        return int(grid[centre + dy, centre + dx]) in GLYPH_CLASSES["corridor"]

    assert onto_corridor(trajectory.turns[fired[0]])
    assert not any(onto_corridor(turn) for turn in trajectory.turns[: fired[0]])


@pytest.mark.parametrize("task", ["Room-15x15", "Room-Dark-5x5", "MazeWalk-9x9", "KeyRoom-Dark-S5"])
def test_expert_solves_navigation_tasks(task):
    """The scripted expert (used above as the scripted player) explores dark rooms and mazes."""
    env = agentrl.make("agentrl/MiniHack-v0", task=task, observation_mode="dict", crop_size=21, max_turns=200)
    try:
        batch = expert_rollout(env, [0, 1, 2])
    finally:
        env.close()
    assert [trajectory.success for trajectory in batch] == [True, True, True]
    assert all(turn.info["action_valid"] for trajectory in batch for turn in trajectory.turns)
