import random
from collections import deque
from pathlib import Path

import numpy as np
import pytest

import agentrl
from agentrl.envs.sokoban.generator import GeneratorConfig, generate_room
from agentrl.envs.sokoban.level import (
    LevelFormatError, format_xsb_file, level_from_text, load_levels, parse_xsb, parse_xsb_file,
)
from agentrl.envs.sokoban.solver import apply_moves, solve

#: The 1,000 Boxoban unfiltered test levels, vendored with their licence (Apache-2.0) in tests/data.
BOXOBAN = str(Path(__file__).resolve().parents[1] / "data" / "boxoban" / "unfiltered-test-000.txt")


def play(level_text, moves, **kwargs):
    env = agentrl.make("agentrl/Sokoban-v0", **kwargs).unwrapped
    env.reset(seed=0, options={"level": parse_xsb(level_text)})
    steps = [env.step(f"<answer>{m}</answer>") for m in moves]
    return env, steps


def test_push_into_wall_changes_nothing_but_costs_a_step():
    env, steps = play("#####\n#.@$#\n#####", ["Right", "Up"])
    for _, reward, terminated, _, info in steps:
        assert reward == pytest.approx(-0.1) and info["action_valid"] and not terminated
    assert env.level.player == (1, 2) and env.level.boxes == {(1, 3)}


def test_push_box_into_box_is_blocked():
    env, steps = play("#######\n#@$$..#\n#######", ["Right"])
    assert env.level.player == (1, 1) and env.level.boxes == {(1, 2), (1, 3)}
    assert steps[0][1] == pytest.approx(-0.1)


def test_box_onto_goal_then_off_goal_rewards():
    env, steps = play("#######\n#@$. .#\n#  $  #\n#######", ["Right", "Right"])
    (_, r1, _, _, i1), (_, r2, _, _, i2) = steps
    assert r1 == pytest.approx(-0.1 + 1.0) and i1["reward_components"]["box"] == 1.0
    assert i1["progress"] == 0.5 and i1["subgoals"] == {"1 box on goals": True, "2 boxes on goals": False}
    assert r2 == pytest.approx(-0.1 - 1.0) and i2["progress"] == 0.0


def test_win_terminates_with_bonus_and_success():
    env, steps = play("######\n#@$ .#\n######", ["Right", "Right"])
    _, reward, terminated, truncated, info = steps[-1]
    assert terminated and not truncated and info["success"] and info["progress"] == 1.0
    assert reward == pytest.approx(-0.1 + 1.0 + 10.0)
    assert info["reward_components"] == pytest.approx({"step": -0.1, "box": 1.0, "finished": 10.0, "format": 0.0})


def test_turn_limit_truncates_never_terminates():
    env, steps = play("######\n#@$ .#\n######", ["Left", "Left", "Left"], max_turns=3)
    assert [s[3] for s in steps] == [False, False, True]
    assert not any(s[2] for s in steps)


def test_several_actions_per_turn_with_cap():
    env = agentrl.make("agentrl/Sokoban-v0", action_format={"max_actions": 2}).unwrapped
    env.reset(seed=0, options={"level": parse_xsb("#######\n#@$  .#\n#######")})
    obs, reward, terminated, _, info = env.step("<answer>Right || Right || Right</answer>")
    assert env.level.player == (1, 3) and info["actions_executed"] == 2
    assert reward == pytest.approx(-0.2) and "only the first 2" in obs


def test_malformed_action_explains_and_penalises():
    env = agentrl.make("agentrl/Sokoban-v0", format_penalty=-0.5).unwrapped
    first, _ = env.reset(seed=1)
    obs, reward, terminated, truncated, info = env.step("<answer>jump</answer>")
    assert not info["action_valid"] and info["invalid_actions"] == 1
    assert reward == -0.5 and info["reward_components"] == {"format": -0.5}
    assert "Invalid action" in obs and "Up, Down, Left, Right" in obs
    assert obs.endswith(first)  # the state is unchanged and still shown


def test_invalid_action_mid_turn_stops_the_rest():
    env = agentrl.make("agentrl/Sokoban-v0", action_format={"max_actions": 3}).unwrapped
    env.reset(seed=0, options={"level": parse_xsb("#######\n#@$  .#\n#######")})
    _, reward, _, _, info = env.step("<answer>Right || fly || Right</answer>")
    assert env.level.player == (1, 2) and not info["action_valid"]
    assert reward == pytest.approx(-0.1 - 0.1)


def test_same_seed_same_room_and_different_seeds_differ():
    env = agentrl.make("agentrl/Sokoban-v0").unwrapped
    a, _ = env.reset(seed=42)
    b, _ = env.reset(seed=42)
    c, _ = env.reset(seed=43)
    assert a == b and a != c


def test_text_legends_and_dict_observation():
    env = agentrl.make("agentrl/Sokoban-v0", symbols="ragen", observation_mode="dict").unwrapped
    obs, _ = env.reset(seed=0)
    assert set(obs["text"]) <= set("#_OX√PS\n") and "P" in obs["text"] or "S" in obs["text"]
    assert obs["grid"].shape == (6, 6) and obs["grid"].dtype == np.int8
    assert env.observation_space.contains(obs)
    level = level_from_text(obs["text"], ("#", "_", "O", "√", "X", "P", "S"))
    assert level == env.level


XSB_FILE = """; 1
#####
#@$.#
#####

; 2
  #####
###   #
#.@$  #
### $.#
#.##$ #
# # . ##
#$ *$$.#
#   .  #
########
"""


def test_xsb_round_trip_multi_level():
    levels = parse_xsb_file(XSB_FILE)
    assert [name for name, _ in levels] == ["1", "2"]
    assert parse_xsb_file(format_xsb_file(levels)) == levels
    second = levels[1][1]
    assert len(second.boxes) == 7 and second.walls[0, 0]  # leading spaces outside the room are walls


@pytest.mark.parametrize(
    "text, line",
    [("; a\n#####\n#@$.#\n#@  #\n#####\n", None), ("; a\n#####\n#@$x#\n#####\n", 3), ("#####\n#@$$.#\n######\n", None)],
)
def test_malformed_level_file_names_the_line(text, line):
    with pytest.raises(LevelFormatError) as info:
        parse_xsb_file(text, source="levels.txt")
    message = str(info.value)
    assert "levels.txt" in message and "line" in message
    if line:
        assert f"line {line}" in message


def test_levels_file_env_plays_loaded_levels(tmp_path):
    path = tmp_path / "levels.xsb"
    path.write_text(XSB_FILE)
    env = agentrl.make("agentrl/Sokoban-v0", levels_file=str(path)).unwrapped
    _, info = env.reset(seed=0, options={"level": 0})
    assert env.level == parse_xsb_file(XSB_FILE)[0][1] and info["task_id"].endswith("#1")
    assert env.observation_space["grid"].shape == (9, 8) if env.config.observation_mode == "dict" else True


def _bfs_optimal_length(level, limit=200_000):
    start = (level.player, level.boxes)
    seen = {start}
    queue = deque([(level, 0)])
    while queue:
        current, depth = queue.popleft()
        if current.solved:
            return depth
        for move in ("Up", "Down", "Left", "Right"):
            nxt = current.move(move)
            key = (nxt.player, nxt.boxes)
            if key not in seen:
                seen.add(key)
                queue.append((nxt, depth + 1))
        if len(seen) > limit:
            return None
    return None


@pytest.mark.parametrize("dim, boxes", [((6, 6), 1), ((7, 7), 2)])
def test_solver_is_move_optimal_against_plain_bfs(dim, boxes):
    rng = random.Random(7)
    for _ in range(15):
        level, _ = generate_room(rng, GeneratorConfig(dim_room=dim, num_boxes=boxes))
        result = solve(level)
        assert result.solved and apply_moves(level, result.moves).solved
        assert len(result.moves) == _bfs_optimal_length(level)


@pytest.mark.parametrize("dim, boxes, count", [((6, 6), 1, 60), ((7, 7), 2, 40), ((10, 10), 3, 25)])
def test_generated_rooms_are_solvable(dim, boxes, count):
    rng = random.Random(dim[0] * 100 + boxes)
    for _ in range(count):
        level, reverse_solution = generate_room(rng, GeneratorConfig(dim_room=dim, num_boxes=boxes))
        assert level.shape == dim and len(level.boxes) == boxes and level.boxes_on_goals == 0
        assert apply_moves(level, reverse_solution).solved
        result = solve(level, max_nodes=100_000)
        assert result.solved, f"unsolved room:\n{level.to_xsb()}"
        assert len(result.moves) <= len(reverse_solution)


def test_solver_reports_unsolvable_and_budget():
    dead = parse_xsb("#####\n#@ $#\n#  .#\n#####")  # box in a corner, off goal
    assert solve(dead).status == "unsolvable"
    levels = load_levels(BOXOBAN)
    result = solve(levels[2][1], max_nodes=3)
    assert result.status == "budget" and not result.solved


def test_solver_solves_real_boxoban_levels():
    levels = load_levels(BOXOBAN)
    assert len(levels) == 1000
    for _, level in levels[:5]:
        result = solve(level)
        assert result.solved and apply_moves(level, result.moves).solved


def test_expert_policy_solves_episodes():
    from agentrl.rollout import grouped_specs, run_episodes

    envs = [agentrl.make("agentrl/Sokoban-v0", dim_room=(7, 7), num_boxes=2, max_turns=60) for _ in range(4)]
    batch = run_episodes(envs, envs[0].unwrapped.expert_policy(), grouped_specs(range(8), 1))
    assert batch.summary()["success_rate"] == 1.0
