"""Steps per second of ``agentrl/MiniHack-v0`` against the raw MiniHack/NLE ``env.step``, in one run.

The same seeded stream of random compass moves is played by:

* ``raw-stock``: the MiniHack env as MiniHack ships it (its default tensor observations: full
  glyph/char/colour maps plus four 9x9 crops), stepped with action indices;
* ``raw-same``: the MiniHack env built exactly as the wrapper builds it (the observation keys the
  wrapper reads, no crops, every key code as an action) and with NLE's prompt handling as the
  wrapper types an action's keys (by default, ``action_set="task"``: as MiniHack ships the task),
  stepped with key codes -- the bare engine cost inside the wrapper;
* ``engine``: the wrapper's game driver alone (:class:`agentrl.envs.minihack.engine.Engine`, which
  types keys through :mod:`agentrl.envs.minihack.nle_step`: NLE's step without its two per-key
  copies of every observation array), given the parsed move -- not a baseline, but it splits the
  wrapper's cost into engine driving and the layers above it (the ``layers`` column);
* ``tensor``: the wrapper with ``observation_mode="dict", text_view="message"`` (9x9 glyph crop + the
  game message);
* ``language``: the wrapper with the full language observation (``observation_mode="text"``).

All four play the same games: episode ``i`` of every configuration uses the NetHack seeds the
wrapper draws for ``reset(seed=i)`` (:func:`agentrl.envs.minihack.env.engine_seeds`), and every
episode lasts at most the task's own MiniHack time limit (``max_episode_steps``: 300 for
Room-15x15, 200 for KeyRoom-S5), like an RL episode; ``--horizon`` changes it. Actions are sent to
the wrapper as ``<answer>east</answer>`` text. Only ``step`` is timed (resets are not), in process
CPU time, so that other processes competing for the cores do not count. The configurations run
in interleaved blocks; each rate is the median over blocks. Overhead = baseline rate / wrapper
rate - 1. The targets (tensor <= 15 %, language <= 40 %) are judged against ``raw-same``, the bare
engine configured like the wrapper, stepped with its own ``env.step``; the overhead against
``raw-stock`` (the env as users get it) is shown too, and ``layers`` = engine rate / wrapper rate -
1 is what the wrapper adds above its own engine driver (parsing, subgoals, info, rendering).

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

from _common import RESULTS  # noqa: E402  (imported while this folder is still on sys.path)

# Run as a script, this file's folder is first on sys.path and this file would shadow the real
# ``minihack`` package; drop that folder.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]

TARGETS = {"tensor": 0.15, "language": 0.40}
BASELINE = "raw-same"
MOVES = ("north", "east", "south", "west", "northeast", "southeast", "southwest", "northwest")
WRAPPER_CONFIGS = {
    "tensor": {"observation_mode": "dict", "text_view": "message"},
    "language": {"observation_mode": "text", "text_view": "language"},
}


def _moves(steps: int, seed: int) -> list[str]:
    rng = np.random.default_rng(seed)
    return [MOVES[i] for i in rng.integers(len(MOVES), size=steps)]


def episode_seeds(episode: int) -> tuple[int, int, int]:
    """The NetHack seeds the wrapper plays in ``reset(seed=episode)``."""
    from gymnasium.utils import seeding

    from agentrl.envs.minihack.env import engine_seeds

    return engine_seeds(seeding.np_random(episode)[0])


class Runner:
    """Plays moves on one configuration, one episode after the other; times ``step`` only.

    An episode ends when the game does or after ``horizon`` steps; episode ``i`` is reset with
    seed ``i`` (the same game in every configuration).
    """

    def __init__(
        self,
        step: Callable[[str], bool],
        reset: Callable[[int], None],
        close: Callable[[], None],
        horizon: int,
    ):
        self.step, self.reset, self.close, self.horizon = step, reset, close, horizon
        self.episode = 0
        self.steps_in_episode = 0
        self.reset(self.episode)

    def rate(self, moves: list[str]) -> float:
        spent = 0.0
        for move in moves:
            start = time.process_time()
            done = self.step(move)
            spent += time.process_time() - start
            self.steps_in_episode += 1
            if done or self.steps_in_episode >= self.horizon:
                self.episode += 1
                self.steps_in_episode = 0
                self.reset(self.episode)
        return len(moves) / spent


def raw_runner(env_id: str, stock: bool):
    from agentrl.envs.minihack.actions import COMPASS
    from agentrl.envs.minihack.engine import _engine_kwargs
    from agentrl.envs.minihack.tasks import build_engine_env, stock_settings

    kwargs = {"max_episode_steps": 1_000_000}  # the runner ends episodes at the horizon
    if not stock:
        shipped = stock_settings(env_id, {})  # the wrapper types an action's keys with these
        kwargs.update(_engine_kwargs(env_id, 1_000_000, 0.0))
        kwargs.update(allow_all_yn_questions=shipped.allow_all_yn_questions, allow_all_modes=shipped.allow_all_modes)
    env = build_engine_env(env_id, kwargs)
    if stock:  # MiniHack navigation tasks act with indices into their compass action list
        index = {name: env.actions.index(COMPASS[name]) for name in COMPASS}
    else:
        index = dict(COMPASS)

    def reset(episode: int) -> None:
        core, disp, lgen = episode_seeds(episode)
        env.seed(core, disp, reseed=False, lgen=lgen)
        env.reset()

    def step(move: str) -> bool:
        _, _, done, truncated, _ = env.step(index[move])
        return bool(done or truncated)

    return step, reset, env.close


def engine_runner(env_id: str):
    from agentrl.envs.minihack.actions import ActionSet
    from agentrl.envs.minihack.engine import Engine
    from agentrl.envs.minihack.tasks import stock_settings

    shipped = stock_settings(env_id, {})
    engine = Engine(env_id, max_steps=1_000_000, penalty_step=0.0, options={}, stock=shipped, minihack_prompts=True)
    action_set = ActionSet(shipped.actions, key_door=shipped.key_door)
    actions = {move: action_set.parse(move) for move in MOVES}

    def reset(episode: int) -> None:
        engine.reset(episode_seeds(episode))

    def step(move: str) -> bool:
        engine.execute(actions[move])
        return engine.done

    return step, reset, engine.close


def wrapper_runner(task: str, horizon: int, **config):
    import agentrl

    env = agentrl.make("agentrl/MiniHack-v0", task=task, max_turns=horizon, **config).unwrapped

    def reset(episode: int) -> None:
        env.reset(seed=episode)

    def step(move: str) -> bool:
        _, _, terminated, truncated, _ = env.step(f"<answer>{move}</answer>")
        return bool(terminated or truncated)

    return step, reset, env.close


def task_horizon(env_id: str) -> int:
    """MiniHack's own time limit for the task (its ``max_episode_steps`` default)."""
    from agentrl.envs.minihack.tasks import build_engine_env

    env = build_engine_env(env_id, {})
    try:
        return int(env._max_episode_steps)
    finally:
        env.close()


def run(task: str, block: int, rounds: int, horizon: int | None = None) -> dict:
    from agentrl.envs.minihack.tasks import resolve_task

    env_id = resolve_task(task).env_id
    horizon = horizon or task_horizon(env_id)
    runners = {
        "raw-stock": Runner(*raw_runner(env_id, stock=True), horizon),
        "raw-same": Runner(*raw_runner(env_id, stock=False), horizon),
        "engine": Runner(*engine_runner(env_id), horizon),
        **{
            name: Runner(*wrapper_runner(task, horizon, **config), horizon)
            for name, config in WRAPPER_CONFIGS.items()
        },
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
        overhead = median[BASELINE] / rate - 1.0
        rows.append(
            {
                "config": name,
                "steps_per_s": round(rate, 1),
                "us_per_step": round(1e6 / rate, 1),
                "overhead_vs_raw_same": round(overhead, 4),
                "overhead_vs_raw_stock": round(median["raw-stock"] / rate - 1.0, 4),
                "layers_over_engine": round(median["engine"] / rate - 1.0, 4) if name in WRAPPER_CONFIGS else None,
                "target": target,
                "meets_target": None if target is None else overhead <= target,
            }
        )
    return {
        "task": task,
        "env_id": env_id,
        "horizon": horizon,
        "block": block,
        "rounds": rounds,
        "baseline": BASELINE,
        "rows": rows,
        "block_rates": {name: [round(v, 1) for v in values] for name, values in rates.items()},
    }


def _signed(fraction: float | None) -> str:
    return "" if fraction is None else f"{fraction:+.1%}"


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def print_table(result: dict) -> None:
    print(
        f"MiniHack wrapper vs raw engine: {result['env_id']}, episodes of <= {result['horizon']} steps, "
        f"{result['rounds']} interleaved blocks of {result['block']} steps (median)"
    )
    print(
        f"{'config':<10} {'steps/s':>8} {'us/step':>8} {'vs same':>8} {'vs stock':>9} {'layers':>8} "
        f"{'target':>7}  ok"
    )
    for row in result["rows"]:
        target = "" if row["target"] is None else f"{row['target']:.0%}"
        ok = "" if row["meets_target"] is None else _yes(row["meets_target"])
        print(
            f"{row['config']:<10} {row['steps_per_s']:>8.0f} {row['us_per_step']:>8.1f} "
            f"{row['overhead_vs_raw_same']:>+8.1%} {row['overhead_vs_raw_stock']:>+9.1%} "
            f"{_signed(row['layers_over_engine']):>8} {target:>7}  {ok}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tasks", nargs="+", default=["Room-15x15", "KeyRoom-S5"])
    parser.add_argument("--block", type=int, default=100, help="steps per timed block")
    parser.add_argument("--rounds", type=int, default=20, help="interleaved blocks per configuration")
    parser.add_argument(
        "--horizon", type=int, default=None, help="steps per episode (default: the task's MiniHack limit)"
    )
    args = parser.parse_args()
    results = []
    for task in args.tasks:
        results.append(run(task, args.block, args.rounds, args.horizon))
        print_table(results[-1])
    out = RESULTS / "minihack.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"targets": TARGETS, "baseline": BASELINE, "results": results}, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
