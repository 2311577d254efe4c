"""Steps per second of ``agentrl/MiniHack-v0`` against the raw MiniHack/NLE ``env.step``, in one run.

The same seeded stream of random compass moves is played by:

* ``raw-stock``: ``gymnasium.make(<MiniHack id>)`` as MiniHack ships it (its default tensor
  observations: full glyph/char/colour maps plus four 9x9 crops), stepped with action indices;
* ``raw-same``: the MiniHack env built exactly as the wrapper builds it (the observation keys the
  wrapper reads, no crops, every key code as an action), stepped with key codes -- the bare engine
  cost inside the wrapper;
* ``tensor``: the wrapper with ``observation_mode="dict", text_view="message"`` (9x9 glyph crop + the
  game message);
* ``language``: the wrapper with the full language observation (``observation_mode="text"``).

Actions are sent to the wrapper as ``<answer>east</answer>`` text. Only ``step`` is timed (resets
are not), in process CPU time, so that other processes competing for the cores do not count. The
configurations run in interleaved blocks; each rate is the median over blocks. Overhead = baseline
rate / wrapper rate - 1, against both baselines. The targets (tensor <= 15 %, language <= 40 %) are
judged against ``raw-stock``, the raw env as users get it; ``raw-same`` shows the stricter figure.

    python benchmarks/minihack.py [--tasks Room-15x15 KeyRoom-S5] [--block 100] [--rounds 20]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

# Run as a script, this file's folder is first on sys.path and this file would shadow the real
# ``minihack`` package; drop that folder.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

TARGETS = {"tensor": 0.15, "language": 0.40}
MOVES = ("north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest")


def _moves(steps: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [MOVES[i] for i in rng.integers(len(MOVES), size=steps)]


class Runner:
    """Plays moves on one configuration, resetting when an episode ends; times ``step`` only."""

    def __init__(self, step: Callable[[str], bool], reset: Callable[[], None], close: Callable[[], None]):
        self.step, self.reset, self.close = step, reset, close
        self.reset()

    def rate(self, moves: list[str]) -> float:
        spent = 0.0
        for move in moves:
            start = time.process_time()
            done = self.step(move)
            spent += time.process_time() - start
            if done:
                self.reset()
        return len(moves) / spent


def raw_runner(env_id: str, stock: bool):
    from agentrl.envs.minihack.actions import COMPASS
    from agentrl.envs.minihack.engine import _engine_kwargs, build_engine_env

    kwargs = {"max_episode_steps": 1_000_000}
    if not stock:
        kwargs.update(_engine_kwargs(env_id, 1_000_000, 0.0))
    env = build_engine_env(env_id, kwargs)
    if stock:  # MiniHack navigation tasks act with indices into their compass action list
        index = {name: env.actions.index(COMPASS[name]) for name in COMPASS}
    else:
        index = dict(COMPASS)
    seeds = iter(range(10**9))

    def reset() -> None:
        s = next(seeds)
        env.seed(s + 1, s + 2, reseed=False)
        env.reset()

    def step(move: str) -> bool:
        _, _, done, truncated, _ = env.step(index[move])
        return bool(done or truncated)

    return step, reset, env.close


def wrapper_runner(task: str, **config):
    import agentrl

    env = agentrl.make("agentrl/MiniHack-v0", task=task, max_turns=100_000, **config).unwrapped
    seeds = iter(range(10**9))

    def reset() -> None:
        env.reset(seed=next(seeds))

    def step(move: str) -> bool:
        _, _, terminated, truncated, _ = env.step(f"<answer>{move}</answer>")
        return bool(terminated or truncated)

    return step, reset, env.close


def run(task: str, block: int, rounds: int) -> dict:
    from agentrl.envs.minihack.tasks import resolve_task

    env_id = resolve_task(task).env_id
    runners = {
        "raw-stock": Runner(*raw_runner(env_id, stock=True)),
        "raw-same": Runner(*raw_runner(env_id, stock=False)),
        "tensor": Runner(*wrapper_runner(task, observation_mode="dict", text_view="message")),
        "language": Runner(*wrapper_runner(task, observation_mode="text", text_view="language")),
    }
    moves = _moves(block * (rounds + 1), seed=0)
    for runner in runners.values():  # warm-up block: lazy tables, caches
        runner.rate(moves[:block])
    rates: dict[str, list[float]] = {name: [] for name in runners}
    for r in range(1, rounds + 1):
        for name, runner in runners.items():
            rates[name].append(runner.rate(moves[r * block : (r + 1) * block]))
    for runner in runners.values():
        runner.close()
    median = {name: statistics.median(values) for name, values in rates.items()}
    rows = []
    for name, rate in median.items():
        target = TARGETS.get(name)
        vs_stock = median["raw-stock"] / rate - 1.0
        rows.append(
            {
                "config": name,
                "steps_per_s": round(rate, 1),
                "us_per_step": round(1e6 / rate, 1),
                "overhead_vs_raw_stock": round(vs_stock, 4),
                "overhead_vs_raw_same": round(median["raw-same"] / rate - 1.0, 4),
                "target": target,
                "meets_target": None if target is None else vs_stock <= target,
                "meets_target_vs_raw_same": None
                if target is None
                else median["raw-same"] / rate - 1.0 <= target,
            }
        )
    return {
        "task": task,
        "env_id": env_id,
        "block": block,
        "rounds": rounds,
        "rows": rows,
        "block_rates": {name: [round(v, 1) for v in values] for name, values in rates.items()},
    }


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def print_table(result: dict) -> None:
    print(
        f"MiniHack wrapper vs raw engine: {result['env_id']}, "
        f"{result['rounds']} interleaved blocks of {result['block']} steps (median)"
    )
    print(
        f"{'config':<10} {'steps/s':>8} {'us/step':>8} {'vs stock':>9} {'vs same':>8} {'target':>7}"
        "  ok (stock / same)"
    )
    for row in result["rows"]:
        target = "" if row["target"] is None else f"{row['target']:.0%}"
        ok = (
            ""
            if row["meets_target"] is None
            else (f"{_yes(row['meets_target'])} / {_yes(row['meets_target_vs_raw_same'])}")
        )
        print(
            f"{row['config']:<10} {row['steps_per_s']:>8.0f} {row['us_per_step']:>8.1f} "
            f"{row['overhead_vs_raw_stock']:>+9.1%} {row['overhead_vs_raw_same']:>+8.1%} {target:>7}  {ok}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["Room-15x15", "KeyRoom-S5"])
    parser.add_argument("--block", type=int, default=100, help="steps per timed block")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved blocks per configuration")
    args = parser.parse_args()
    results = []
    for task in args.tasks:
        results.append(run(task, args.block, args.rounds))
        print_table(results[-1])
    out = Path(__file__).parent / "results" / "minihack.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"targets": TARGETS, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
