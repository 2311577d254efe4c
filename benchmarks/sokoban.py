"""Sokoban: room generation against gym-sokoban, env step rate, and the solver on Boxoban levels.

    python benchmarks/sokoban.py                 # full run (all 1,000 Boxoban levels)
    python benchmarks/sokoban.py --levels 100    # quicker

Prints tables and writes benchmarks/results/sokoban.json. Ratios compare against gym-sokoban's
generator (PyPI ``gym-sokoban``) measured in the same run.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import time
import warnings
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results  # noqa: E402

import agentrl  # noqa: E402
from agentrl.envs.sokoban.generator import GeneratorConfig, generate_room  # noqa: E402
from agentrl.envs.sokoban.level import Level, load_levels  # noqa: E402
from agentrl.envs.sokoban.solver import apply_moves, solve  # noqa: E402

SIZES = [((6, 6), 1), ((7, 7), 2), ((10, 10), 3)]
#: The 1,000 Boxoban unfiltered test levels, vendored with their licence in tests/data/boxoban.
BOXOBAN = Path(__file__).resolve().parents[1] / "tests" / "data" / "boxoban" / "unfiltered-test-000.txt"


def ours(dim, boxes, seconds):
    rng = random.Random(0)
    config = GeneratorConfig(dim_room=dim, num_boxes=boxes)
    rooms, start = [], time.perf_counter()
    while time.perf_counter() - start < seconds:
        rooms.append(generate_room(rng, config)[0])
    rate = len(rooms) / (time.perf_counter() - start)
    solved, lengths = 0, []
    for level in rooms:
        result = solve(level, max_nodes=200_000)
        solved += result.solved and apply_moves(level, result.moves).solved
        lengths.append(len(result.moves or []))
    return rate, len(rooms), solved, float(np.mean(lengths))


def gym_sokoban(dim, boxes, seconds, max_rooms):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from gym_sokoban.envs.room_utils import generate_room as reference
    random.seed(0)
    np.random.seed(0)
    made, failed, lengths, start = 0, 0, [], time.perf_counter()
    while time.perf_counter() - start < seconds and made < max_rooms:
        try:
            structure, state, _ = reference(dim=dim, num_steps=int(1.7 * sum(dim)), num_boxes=boxes)
        except (RuntimeError, RuntimeWarning):
            failed += 1
            continue
        made += 1
        lengths.append(len(solve(_level(structure, state)).moves or []))
    elapsed = time.perf_counter() - start
    return made / elapsed, made, failed, float(np.mean(lengths)) if lengths else float("nan")


def _level(structure, state) -> Level:
    boxes = frozenset(map(tuple, np.argwhere((state == 3) | (state == 4)).tolist()))
    player = tuple(np.argwhere(state == 5)[0].tolist())
    return Level(structure == 0, structure == 2, boxes, player)


def generation(seconds: float, baseline_seconds: float):
    rows, out = [], []
    for dim, boxes in SIZES:
        rate, n, solved, mean_len = ours(dim, boxes, seconds)
        ref_rate, ref_n, ref_failed, ref_len = gym_sokoban(dim, boxes, baseline_seconds, max_rooms=200)
        ratio = rate / ref_rate if ref_rate else float("inf")
        rows.append([f"{dim[0]}x{dim[1]}", boxes, rate, f"{solved}/{n}", mean_len, ref_rate, ref_n, ref_len, ratio])
        out.append({"size": list(dim), "boxes": boxes, "rooms_per_s": rate, "rooms": n, "verified_solvable": solved,
                    "mean_optimal_moves": mean_len, "gym_sokoban_rooms_per_s": ref_rate, "gym_sokoban_rooms": ref_n,
                    "gym_sokoban_failed_attempts": ref_failed, "gym_sokoban_mean_optimal_moves": ref_len,
                    "speedup": ratio})
    print_table(["size", "boxes", "ours rooms/s", "solvable", "opt moves", "gym-sokoban rooms/s", "n", "opt moves",
                 "ratio"], rows)
    return out


def env_steps(seconds: float):
    env = agentrl.make("agentrl/Sokoban-v0").unwrapped
    actions = ["<answer>Up</answer>", "<answer>Left</answer>", "<answer>Down</answer>", "<answer>Right</answer>"]
    env.reset(seed=0)
    steps, resets, start, i = 0, 0, time.perf_counter(), 0
    while time.perf_counter() - start < seconds:
        _, _, terminated, truncated, _ = env.step(actions[i % 4])
        i += 1
        steps += 1
        if terminated or truncated:
            env.reset(seed=steps)
            resets += 1
    rate = steps / (time.perf_counter() - start)
    print(f"\nenv steps/s (text actions, resets included): {rate:,.0f} ({resets} resets)")
    return {"steps_per_s": rate, "resets": resets}


def boxoban(limit: int | None, max_nodes: int):
    levels = load_levels(str(BOXOBAN))[:limit]
    times, nodes, failures = [], [], []
    for name, level in levels:
        result = solve(level, max_nodes=max_nodes)
        times.append(result.seconds)
        nodes.append(result.nodes)
        if not (result.solved and apply_moves(level, result.moves).solved):
            failures.append({"level": name, "status": result.status})
    summary = {
        "levels": len(levels), "solved": len(levels) - len(failures), "failures": failures,
        "median_s": statistics.median(times), "p95_s": float(np.percentile(times, 95)), "max_s": max(times),
        "median_nodes": statistics.median(nodes), "p95_nodes": float(np.percentile(nodes, 95)),
        "max_nodes_budget": max_nodes,
    }
    print()
    print_table(["Boxoban levels", "solved", "median s", "p95 s", "max s", "median nodes", "p95 nodes"],
                [[summary["levels"], summary["solved"], summary["median_s"], summary["p95_s"], summary["max_s"],
                  summary["median_nodes"], summary["p95_nodes"]]])
    return summary


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--levels", type=int, default=None, help="Boxoban levels to solve (default: all 1,000)")
    parser.add_argument("--seconds", type=float, default=5.0, help="time per generator measurement")
    parser.add_argument("--baseline-seconds", type=float, default=30.0, help="time budget per gym-sokoban size")
    parser.add_argument("--max-nodes", type=int, default=1_000_000)
    args = parser.parse_args()
    results = {
        "command": "python benchmarks/sokoban.py" + (f" --levels {args.levels}" if args.levels else ""),
        "generation": generation(args.seconds, args.baseline_seconds),
        "env": env_steps(args.seconds),
        "boxoban": boxoban(args.levels, args.max_nodes),
    }
    write_results("sokoban", results)


if __name__ == "__main__":
    main()
