"""Rollout throughput on Ray workers against the in-process loop, in one run (local Ray).

Every configuration plays the same episodes with the same concurrency (``--envs`` envs in all) and
a cheap random policy whose move depends only on (episode, turn), so every configuration plays the
very same moves and the figures are the rollout machinery's, not a model's:

* ``in-process``: :func:`agentrl.rollout.run_episodes` over ``--envs`` envs (the baseline);
* ``ray x1``: :class:`~agentrl.rollout.ray.RayRolloutBackend`, 1 worker hosting every env;
* ``ray x2``: 2 workers hosting half the envs each;
* ``ray x2 thr``: the same, each worker stepping its envs in threads (``threads_per_worker``).

Workloads:

1. ``sokoban``: ``agentrl/Sokoban-v0`` as it is (a step costs tens of microseconds: pure overhead);
2. ``sokoban+io``: the same with ``--step-ms`` of waiting in every step, as an env whose step waits
   on a sandbox command does (the measured sandbox command round trip is a few ms);
3. ``one-turn``: one fixed Sokoban level (reset costs microseconds) cut to one turn per episode,
   so an episode costs almost nothing but the machinery around it. Ray's per-episode overhead is
   its time per episode minus the in-process time per episode.

Rates are wall-clock (the workers are other processes), the median of ``--repeats`` interleaved
rounds. Ray's start-up (``ray.init`` and actor creation) is reported apart.

    python benchmarks/scale.py [--episodes 64] [--envs 8] [--step-ms 5] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import agentrl
from agentrl.core.policy import ActionOutput
from agentrl.rollout import grouped_specs, run_episodes
from agentrl.envs.sokoban.env import SokobanEnv
from agentrl.rollout.ray import RayRolloutBackend  # before ray.init: no usage reporting

from _common import RESULTS as RESULTS_DIR  # noqa: E402  (this folder is sys.path[0] when run as a script)
RESULTS = RESULTS_DIR / "scale.json"
CONFIGS = ("in-process", "ray x1", "ray x2", "ray x2 thr")
LEVEL = "#####\n#@$.#\n#####\n"  # one push solves it


class KeyedRandomPolicy:
    """A uniformly random move drawn from (episode, turn): the same moves whatever the batching."""

    def act(self, inputs):
        moves = ("Up", "Down", "Left", "Right")
        return [
            ActionOutput(text=f"<answer>{moves[hash((item.episode_key, len(item.history))) % 4]}</answer>")
            for item in inputs
        ]


def sokoban_with_io(step_ms: float = 0.0, **kwargs):
    """Sokoban whose every step also waits ``step_ms`` (as on a sandbox command); not CPU work."""
    env = SokobanEnv(**kwargs)
    step = env.step

    def waiting_step(action):
        time.sleep(step_ms / 1000)
        return step(action)

    env.step = waiting_step
    return env


def workloads(level_file: str) -> dict[str, tuple[str, dict]]:
    return {
        "sokoban": ("agentrl/Sokoban-v0", {}),
        "sokoban+io": ("agentrl/SokobanIO-v0", {}),
        "one-turn": ("agentrl/Sokoban-v0", {"levels_file": level_file, "max_turns": 1}),
    }


class Runners:
    """The configurations for one workload, kept alive across rounds."""

    def __init__(self, env_id: str, env_kwargs: dict, envs: int):
        self.envs = [agentrl.make(env_id, **env_kwargs) for _ in range(envs)]
        started = time.perf_counter()
        half = envs // 2
        self.ray = {
            "ray x1": RayRolloutBackend(env_id, env_kwargs, num_workers=1, envs_per_worker=envs, worker_num_cpus=0.4),
            "ray x2": RayRolloutBackend(env_id, env_kwargs, num_workers=2, envs_per_worker=half, worker_num_cpus=0.4),
            "ray x2 thr": RayRolloutBackend(
                env_id, env_kwargs, num_workers=2, envs_per_worker=half, worker_num_cpus=0.4, threads_per_worker=half
            ),
        }
        self.startup_s = time.perf_counter() - started

    def play(self, config: str, specs) -> tuple[float, int, float]:
        """Seconds, env steps and driver-to-worker calls for one pass over ``specs``."""
        policy = KeyedRandomPolicy()
        started = time.perf_counter()
        if config == "in-process":
            batch = run_episodes(self.envs, policy, specs)
        else:
            batch = self.ray[config].run_episodes(policy, specs)
        return time.perf_counter() - started, batch.num_turns, batch.metrics.get("rollout/remote_calls", 0.0)

    def close(self) -> None:
        for backend in self.ray.values():
            backend.close()
        for env in self.envs:
            env.close()


def measure(env_id: str, kwargs: dict, args) -> dict:
    runners = Runners(env_id, kwargs, args.envs)
    specs = grouped_specs(range(args.episodes), 1)
    seconds: dict[str, list[float]] = {c: [] for c in CONFIGS}
    steps: dict[str, int] = {}
    calls: dict[str, float] = {}
    try:
        for config in CONFIGS:  # warm-up: first calls import and allocate
            runners.play(config, specs[: args.envs])
        for _ in range(args.repeats):
            for config in CONFIGS:
                spent, steps[config], calls[config] = runners.play(config, specs)
                seconds[config].append(spent)
    finally:
        runners.close()
    out = {"env": env_id, "env_kwargs": kwargs, "episodes": args.episodes, "startup_s": runners.startup_s}
    base = statistics.median(seconds["in-process"])
    for config in CONFIGS:
        median = statistics.median(seconds[config])
        out[config] = {
            "seconds": median,
            "env_steps": steps[config],
            "steps_per_s": steps[config] / median,
            "ms_per_episode": 1000 * median / args.episodes,
            "speed_vs_in_process": base / median,
            "remote_calls": calls[config],
        }
    return out


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--episodes", type=int, default=64)
    parser.add_argument("--envs", type=int, default=8, help="envs in all (even: ray x2 splits them)")
    parser.add_argument("--step-ms", type=float, default=5.0, help="wait per step in the sokoban+io workload")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    import ray

    started = time.perf_counter()
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    ray_init_s = time.perf_counter() - started
    agentrl.register("agentrl/SokobanIO-v0", sokoban_with_io, step_ms=args.step_ms)
    with tempfile.TemporaryDirectory() as folder:
        level_file = Path(folder) / "one.xsb"
        level_file.write_text(LEVEL)
        try:
            results = {
                name: measure(env_id, kwargs, args)
                for name, (env_id, kwargs) in workloads(str(level_file)).items()
            }
        finally:
            ray.shutdown()
    overhead = {
        c: results["one-turn"][c]["ms_per_episode"] - results["one-turn"]["in-process"]["ms_per_episode"]
        for c in CONFIGS[1:]
    }
    report = {
        "baseline": "in-process run_episodes, same envs and episodes",
        "envs": args.envs,
        "step_ms": args.step_ms,
        "repeats": args.repeats,
        "ray_init_s": ray_init_s,
        "workloads": results,
        "ray_overhead_ms_per_episode": overhead,
    }
    print_table(report)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2))
    print(f"\nwrote {RESULTS}")


def print_table(report: dict) -> None:
    print(f"{'workload':<12} {'config':<11} {'steps/s':>9} {'ms/episode':>11} {'x in-process':>13}")
    for name, result in report["workloads"].items():
        for config in CONFIGS:
            row = result[config]
            print(
                f"{name:<12} {config:<11} {row['steps_per_s']:>9.0f} {row['ms_per_episode']:>11.2f} "
                f"{row['speed_vs_in_process']:>13.2f}"
            )
    print(
        "\nRay per-episode overhead (one-turn episodes, minus in-process): "
        + ", ".join(f"{c}: {ms:.2f} ms" for c, ms in report["ray_overhead_ms_per_episode"].items())
    )
    print(
        f"Ray start-up: ray.init {report['ray_init_s']:.1f} s; actors per workload "
        + ", ".join(f"{n}: {r['startup_s']:.1f} s" for n, r in report["workloads"].items())
    )


if __name__ == "__main__":
    main()
