"""KeyRoom with MiniHack's own action set: the key is necessary, ``apply`` is MiniHack's script, step
for step, and the ``character`` option is honoured or refused."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest

pytest.importorskip("minihack")

from gymnasium.utils import seeding
from nle import nethack

import agentrl
from agentrl.core.config import ConfigError
from agentrl.core.policy import PolicyInput
from agentrl.rollout import EpisodeSpec, run_episodes
from agentrl.core.trajectory import Turn
from agentrl.envs.minihack.actions import COMPASS, COMPASS_OFFSETS
from agentrl.envs.minihack.engine import OBSERVATION_KEYS
from agentrl.envs.minihack.env import engine_seeds
from agentrl.envs.minihack.expert import KEY_GLYPH, passable_glyphs
from agentrl.envs.minihack.tasks import build_engine_env

CLOSED_DOORS = (nethack.GLYPH_CMAP_OFF + 15, nethack.GLYPH_CMAP_OFF + 16)
STAIRS_DOWN = nethack.GLYPH_CMAP_OFF + 24
#: MiniHack's KeyRoom action set as text: its ten actions.
KEYROOM_TEXTS = {**COMPASS, "pick up": ord(","), "apply": ord("a")}
#: Every way NetHack offers through the door without the key, and spellings of them.
ROUTES = [
    "unlock {side} with lock pick",
    "apply lock pick {side}",
    "apply e {side}",
    "use the lock pick {side}",
    "unlock {side}",
    "apply key {side}",
    "kick {side}",
    "open {side}",
    "force",
    "untrap {side}",
    "fight {side}",
    "far {side}",
    "apply",
    "apply key",
    "search",
    "zap e {side}",
    "#force",
    "pick up",
]


def make(**kwargs):
    return agentrl.make("agentrl/MiniHack-v0", **{"task": "KeyRoom-S5", **kwargs})


def holds_key(engine) -> bool:
    return any("key" in row.tobytes().decode("latin-1") for row in engine.obs["inv_strs"])


def agent_xy(engine) -> tuple[int, int]:
    blstats = engine.obs["blstats"]
    return int(blstats[nethack.NLE_BL_X]), int(blstats[nethack.NLE_BL_Y])


def find(engine, glyphs) -> list[tuple[int, int]]:
    ys, xs = np.nonzero(np.isin(engine.obs["glyphs"], glyphs))
    return [(int(x), int(y)) for x, y in zip(xs, ys)]


def first_move(engine, goal: tuple[int, int]) -> str | None:
    """First compass move of a shortest walk over the known map to ``goal`` (None: there already/unreachable)."""
    glyphs = engine.obs["glyphs"]
    passable = passable_glyphs()[glyphs]
    start = agent_xy(engine)
    first = {start: None}
    queue = deque([start])
    while queue:
        x, y = queue.popleft()
        if (x, y) == goal:
            return first[(x, y)]
        for name, (dx, dy) in COMPASS_OFFSETS.items():
            nxt = (x + dx, y + dy)
            if nxt in first or not (0 <= nxt[1] < glyphs.shape[0] and 0 <= nxt[0] < glyphs.shape[1]):
                continue
            if not passable[nxt[1], nxt[0]] or int(glyphs[nxt[1], nxt[0]]) in CLOSED_DOORS:
                continue
            first[nxt] = first[(x, y)] or name
            queue.append(nxt)
    return None


def beside_door(engine) -> tuple[tuple[int, int], str]:
    """A square of the key's room orthogonally next to the door, and the door's side from it."""
    ((dx_, dy_),) = find(engine, CLOSED_DOORS)
    for side in ("north", "south", "east", "west"):
        ox, oy = COMPASS_OFFSETS[side]
        square = (dx_ - ox, dy_ - oy)
        if square == agent_xy(engine) or first_move(engine, square) is not None:
            return square, side
    raise AssertionError("no reachable square beside the door")


def walk_to(env, square: tuple[int, int]) -> None:
    engine = env.unwrapped.engine
    for _ in range(40):
        move = first_move(engine, square)
        if move is None:
            break
        assert env.step(move)[4]["action_valid"]
    assert agent_xy(engine) == square


# --------------------------------------------------------------------------- the key is necessary
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_route_through_the_locked_door_without_the_key(seed):
    """Next to the locked door without the key, every route NetHack has (the Rogue's lock pick,
    kicks, #force, opening, walking into it) is refused: invalid, no game time, the door stays shut."""
    env = make()
    try:
        env.reset(seed=seed)
        engine = env.unwrapped.engine
        square, side = beside_door(engine)
        walk_to(env, square)
        assert not holds_key(engine)
        door = find(engine, CLOSED_DOORS)
        for route in ROUTES:
            text = route.format(side=side)
            time = int(engine.obs["blstats"][nethack.NLE_BL_TIME])
            observation, _, _, _, info = env.step(text)
            if text == "pick up":  # a valid MiniHack action, with nothing here to pick up
                assert info["action_valid"] and "There is nothing here to pick up." in observation
                continue
            assert not info["action_valid"], text
            assert int(engine.obs["blstats"][nethack.NLE_BL_TIME]) == time, text
            assert find(engine, CLOSED_DOORS) == door, text
        for _ in range(5):  # walking into it: "This door is locked."
            observation, *_ = env.step(side)
            assert "This door is locked." in observation and find(engine, CLOSED_DOORS) == door
        assert not env.unwrapped.subgoals() or not info["subgoals"].get("unlock the door")
    finally:
        env.close()


def test_the_full_action_set_is_nethack_s_where_the_lock_pick_opens_the_door():
    """The opt-in full command set plays NetHack's rules: there the Rogue's lock pick does open the
    door, which is why the default is MiniHack's action set."""
    env = make(action_set="full")
    try:
        env.reset(seed=0)
        engine = env.unwrapped.engine
        square, side = beside_door(engine)
        walk_to(env, square)
        for _ in range(10):
            env.step(f"unlock {side} with lock pick")
            if not find(engine, CLOSED_DOORS):
                break
            env.step(f"open {side}")
            if not find(engine, CLOSED_DOORS):
                break
        assert not find(engine, CLOSED_DOORS) and not holds_key(engine)
    finally:
        env.close()


#: The random search's words: MiniHack's actions and everything else an agent might try.
VOCABULARY = [*KEYROOM_TEXTS, *(r.format(side=s) for r in ROUTES for s in ("north", "south", "east", "west"))]


def test_random_search_never_gets_past_the_door_without_the_key():
    """Over many seeds, walks mixed with random texts from every route: to the door, and in every
    other episode first to the key. The door opens and the stairs are reached only with the key in
    the inventory."""
    env = make(max_turns=60)
    rng = np.random.default_rng(3)
    engine = env.unwrapped.engine
    opened = successes = 0
    try:
        for seed in range(120):
            env.reset(seed=seed)
            doors: set[tuple[int, int]] = set()  # squares seen as a closed door
            keys = find(engine, [KEY_GLYPH]) if seed % 2 else []  # walk to the key first
            done = False
            while not done:
                doors.update(find(engine, CLOSED_DOORS))
                had_key = holds_key(engine)
                if keys and not had_key:
                    square = keys[0]
                    if agent_xy(engine) == square:
                        env.step("pick up")
                        continue
                elif find(engine, CLOSED_DOORS):
                    square = beside_door(engine)[0]
                else:
                    square = next(iter(find(engine, [STAIRS_DOWN])), None)
                move = first_move(engine, square) if square else None
                text = move if move and rng.random() < 0.5 else VOCABULARY[rng.integers(len(VOCABULARY))]
                _, _, terminated, truncated, info = env.step(text)
                done = terminated or truncated
                if not engine.done and any(
                    int(engine.obs["glyphs"][y, x]) not in CLOSED_DOORS for x, y in doors
                ):
                    assert had_key, (seed, text)
                    opened += 1
                    doors.clear()
                if info["success"]:
                    assert had_key, seed
                    successes += 1
    finally:
        env.close()
    assert opened > 0 and successes > 0  # the search did get keys, open doors and win, only in that order


@pytest.mark.parametrize("task", ["KeyRoom-S5"])
def test_expert_wins_twenty_of_twenty_with_minihack_s_actions(task):
    env = make(task=task, observation_mode="dict", crop_size=21, max_turns=100)
    try:
        batch = run_episodes([env], env.unwrapped.expert_policy(), [EpisodeSpec(seed=s) for s in range(20)])
    finally:
        env.close()
    assert [t.success for t in batch] == [True] * 20
    assert all(turn.info["action"] in KEYROOM_TEXTS for t in batch for turn in t.turns)
    assert all(turn.info["action_valid"] for t in batch for turn in t.turns)


def test_success_means_the_key_was_picked_up_and_the_agent_stepped_onto_the_stairs():
    """KeyRoom's documented outcome: on every successful episode (expert and random play), the key was
    held before the last move, and that move went onto the staircase down."""
    env = make(observation_mode="dict", crop_size=21, max_turns=100)
    base = env.unwrapped
    expert = base.expert_policy()
    rng = np.random.default_rng(0)
    checked = 0
    try:
        for seed in range(12):
            observation, info = env.reset(seed=seed)
            history, done = [], False
            while not done:
                if rng.random() < 0.2:
                    text = list(KEYROOM_TEXTS)[rng.integers(len(KEYROOM_TEXTS))]
                else:
                    item = PolicyInput(
                        observation=observation, info=info, history=list(history), episode_key=0
                    )
                    text = expert.act([item])[0].text
                history.append(Turn(observation=observation, action=text, info=info))
                had_key, (x, y) = holds_key(base.engine), agent_xy(base.engine)
                stairs = find(base.engine, [STAIRS_DOWN])
                observation, _, terminated, truncated, info = env.step(text)
                done = terminated or truncated
                if info["success"]:
                    dx, dy = COMPASS_OFFSETS[info["action"]]
                    assert had_key and (x + dx, y + dy) in stairs
                    assert info["progress"] == 1.0
                    checked += 1
    finally:
        env.close()
    assert checked >= 10


# --------------------------------------------------------------------------- MiniHack's apply, step for step
def _stock_game(env_id: str, seed: int, penalty_step: float):
    env = build_engine_env(
        env_id, {"fix_moon_phase": True, "penalty_step": penalty_step, "observation_keys": OBSERVATION_KEYS}
    )
    core, disp, lgen = engine_seeds(seeding.np_random(seed)[0])
    env.seed(core, disp, reseed=False, lgen=lgen)
    env.reset()
    return env


@pytest.mark.parametrize("task", ["KeyRoom-S5", "KeyRoom-Fixed-S5", "KeyRoom-Dark-S5", "KeyRoom-S15"])
def test_task_actions_play_minihack_s_own_game(task):
    """The same seeded games through MiniHack's KeyRoom env (its own ten actions, prompt handling and
    ``apply`` script) and through agentrl's text actions: after every action the observation arrays
    (map, stats, inventory, message, terminal), the reward (with MiniHack's -0.01 time penalty), the
    ending and MiniHack's step count are identical. The env refuses ``apply`` where the script would
    not run; MiniHack then types apply and declines its question, changing nothing, so those turns
    are not sent to MiniHack."""
    rng = np.random.default_rng(1)
    scripts = 0
    for seed in range(3):
        penalty = -0.01 if seed % 2 else 0.0
        stock = _stock_game(f"MiniHack-{task}-v0", seed, penalty)
        index = {int(action): i for i, action in enumerate(stock.actions)}
        env = make(task=task, observation_mode="dict", crop_size=21, max_turns=80, penalty_step=penalty)
        base = env.unwrapped
        expert = base.expert_policy()
        try:
            observation, info = env.reset(seed=seed)
            history, done = [], False
            while not done:
                if rng.random() < 0.3:
                    text = list(KEYROOM_TEXTS)[rng.integers(len(KEYROOM_TEXTS))]
                else:
                    item = PolicyInput(
                        observation=observation, info=info, history=list(history), episode_key=0
                    )
                    text = expert.act([item])[0].text.removeprefix("<answer>").removesuffix("</answer>")
                history.append(Turn(observation=observation, action=text, info=info))
                observation, reward, terminated, truncated, info = env.step(text)
                done = terminated or truncated
                if not info["action_valid"]:
                    assert text == "apply" and not base.engine.key_door_ready()
                    continue
                scripts += text == "apply"
                _, stock_reward, stock_done, _, _ = stock.step(index[KEYROOM_TEXTS[text]])
                assert (reward, terminated) == (stock_reward, stock_done)
                assert base.engine.env._steps == stock._steps
                if stock_done:
                    break
                for key in ("glyphs", "blstats", "inv_strs", "inv_letters", "message", "tty_chars"):
                    theirs = stock.last_observation[stock._observation_keys.index(key)]
                    np.testing.assert_array_equal(base.engine.obs[key], theirs, err_msg=f"{text}: {key}")
        finally:
            env.close()
            stock.close()
    assert scripts >= 3


def test_apply_refusal_says_what_is_missing():
    env = make()
    try:
        observation, _ = env.reset(seed=0)
        observation, reward, *_, info = env.step("apply")
        assert not info["action_valid"] and "you hold no key" in observation
        assert reward == pytest.approx(env.unwrapped.config.format_penalty)
        env.step("northwest")
        env.step("pick up")
        env.step("south")
        observation, *_, info = env.step("apply")  # key in hand, the door two squares away
        assert not info["action_valid"] and "no closed door is next to you" in observation
        env.step("north")
        observation, *_, info = env.step("apply")  # the door is north-west: MiniHack's script takes diagonals
        assert info["action_valid"] and "The door opens." in observation
    finally:
        env.close()


# --------------------------------------------------------------------------- character
def _welcome(observation: str) -> str:
    return observation.split("\n", 1)[0]


@pytest.mark.parametrize("task", ["KeyRoom-S5", "Room-5x5", "Corridor-R2"])
def test_character_is_honoured(task):
    """MiniHack's KeyRoom takes it as ``charachter`` (its own spelling); other tasks as ``character``."""
    env = make(task=task, character="sam-hum-law-mal")
    try:
        observation, _ = env.reset(seed=0)
        assert "You are a lawful male human Samurai." in _welcome(observation)
        assert "katana" in observation.split("Inventory:", 1)[1]
    finally:
        env.close()
    env = make(task=task)
    try:
        observation, _ = env.reset(seed=0)
        assert "You are a chaotic male human Rogue." in _welcome(observation)
    finally:
        env.close()


def test_a_task_with_a_fixed_character_refuses_one():
    with pytest.raises(
        ConfigError, match="plays a fixed character .'kni-hum-law-fem'. .*leave character unset"
    ):
        make(task="MiniHack-CorridorBattle-v0", character="val")


@pytest.mark.parametrize(
    "character, message",
    [
        ("xyz", "'xyz' is not a NetHack role, race, gender or alignment"),
        ("sam-elf", "a Samurai cannot be elf"),
        ("val-mal", "a Valkyrie cannot be male"),
        ("sam-m", "'m' sets the role again"),
    ],
)
def test_characters_netHack_would_change_are_refused(character, message):
    with pytest.raises(ConfigError, match=message):
        make(character=character)
