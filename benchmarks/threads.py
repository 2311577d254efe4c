"""The torch thread setting of a training run on a CPU shared with other jobs.

    python benchmarks/threads.py                  # as the machine is, then with 1 busy process beside
    python benchmarks/threads.py --busy 0 1 2 --repeats 3

Each measurement is a fresh process training the quickstart model (its env, sizes and generation
settings; no SFT, no evaluation) for ``--iterations`` RL iterations, once with ``run.threads=1``
(agentrl's default) and once with ``run.threads=0`` (torch's default: one thread per core, the
baseline), alternating, best of ``--repeats``. ``--busy N`` starts N CPU-bound processes beside it
(other jobs on the machine). The table gives the seconds per iteration and the ratio
baseline / one thread (above 1: one thread is faster). Writes ``threads.json`` to the results folder.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import print_table, write_results  # noqa: E402

SETTINGS = {"one thread (run.threads=1)": 1, "torch default (run.threads=0)": 0}
BASELINE = "torch default (run.threads=0)"


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--busy", type=int, nargs="+", default=[0, 1], help="CPU-bound processes beside the run")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--iterations", type=int, default=2)
    parser.add_argument("--tasks", type=int, default=8, help="tasks per iteration (4 episodes each)")
    parser.add_argument("--worker", type=int, default=None, help=argparse.SUPPRESS)  # internal: one measurement
    return parser.parse_args(argv)


def worker(threads: int, iterations: int, tasks: int) -> None:
    """One training run; prints its seconds per iteration as JSON."""
    import agentrl

    with tempfile.TemporaryDirectory() as out:
        result = agentrl.train("quickstart", sft={"episodes": 0}, eval={"episodes": 0},
                               rl={"iterations": iterations, "tasks_per_iteration": tasks, "num_envs": 4 * tasks},
                               run={"output_dir": out, "threads": threads, "progress": False, "tensorboard": False,
                                    "samples": 0})
    seconds = [r["time/iteration_s"] for r in result.metrics if "time/iteration_s" in r]
    print(json.dumps({"s_per_iteration": sum(seconds) / len(seconds)}))


def measure(threads: int, args) -> float:
    command = [sys.executable, __file__, "--worker", str(threads), "--iterations", str(args.iterations),
               "--tasks", str(args.tasks)]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])["s_per_iteration"]


def with_busy_processes(count: int):
    return [subprocess.Popen([sys.executable, "-c", "while True: pass"]) for _ in range(count)]


def main() -> None:
    args = parse_args()
    if args.worker is not None:
        worker(args.worker, args.iterations, args.tasks)
        return
    rows, results = [], []
    for busy in args.busy:
        burners = with_busy_processes(busy)
        load = os.getloadavg()[0]
        try:
            best = {name: float("inf") for name in SETTINGS}
            for _ in range(args.repeats):
                for name, threads in SETTINGS.items():
                    best[name] = min(best[name], measure(threads, args))
        finally:
            for process in burners:
                process.kill()
                process.wait()
        ratio = best[BASELINE] / best["one thread (run.threads=1)"]
        results.append({"busy_processes": busy, "load_before": load, "s_per_iteration": best, "ratio": ratio})
        for name in SETTINGS:
            rows.append([busy, f"{load:.1f}", name, best[name], ratio if name == BASELINE else 1.0])
    print_table(["busy processes", "load avg", "setting", "s / iteration", "baseline / one thread"], rows)
    write_results("threads", {"cpus": os.cpu_count(), "iterations": args.iterations, "tasks": args.tasks,
                              "baseline": BASELINE, "results": results})


if __name__ == "__main__":
    main()
