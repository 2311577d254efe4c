"""The quickstart over several seeds: does RL improve on SFT in every seed, and does it stay there?

    python benchmarks/quickstart.py                         # 3 seeds of `agentrl train` (sync)
    python benchmarks/quickstart.py --modes sync async      # and the same seeds with async rollouts
    python benchmarks/quickstart.py --jobs 2                # two runs at once (one torch thread each)

Each run is the README's main job, ``agentrl train`` with the built-in quickstart preset and
``run.seed=S``, in its own process. The table gives, per run, held-out success after SFT, at the
end of RL and at its best evaluation, and the wall-clock time; then the mean and range per mode.
``async`` adds ``rl.async_rollouts=true rl.max_staleness=1 rl.importance_correction=decoupled``
(learning parity: the same held-out success within the seed-to-seed spread). Writes
``benchmarks/results/quickstart.json`` and ``docs/images/quickstart.png`` (every seed's curve).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, print_table, write_results

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"
MODES = {
    "sync": [],
    "async": ["rl.async_rollouts=true", "rl.max_staleness=1", "rl.importance_correction=decoupled"],
}


def run_one(mode: str, seed: int, folder: Path) -> dict[str, Any]:
    """``agentrl train`` in a fresh process; its metrics and best checkpoint, read back. A run already
    finished in ``folder`` (``--keep``) is read back, not run again."""
    out = folder / f"{mode}-{seed}"
    wall_file = out / "wall_s.txt"
    if not wall_file.exists():
        command = [sys.executable, "-m", "agentrl.cli", "train", f"run.seed={seed}", f"run.output_dir={out}",
                   "run.progress=false", "run.tensorboard=false", "run.resume=false", *MODES[mode]]
        started = time.perf_counter()
        done = subprocess.run(command, capture_output=True, text=True)
        if done.returncode != 0:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}")
        wall_file.write_text(f"{time.perf_counter() - started:.1f}")
        (out / "load_average.txt").write_text(f"{os.getloadavg()[0]:.2f}")  # the load while it ran
    wall = float(wall_file.read_text())
    load_file = out / "load_average.txt"
    load = float(load_file.read_text()) if load_file.exists() else None
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    best = json.loads((out / "best" / "meta.json").read_text())
    curve = [(0, records[0]["sft/success_rate"])] + [
        (r["iteration"], r["eval/success_rate"]) for r in records[1:] if "eval/success_rate" in r]
    print(f"  {mode} seed {seed}: SFT {curve[0][1]:.1%} -> final {curve[-1][1]:.1%} "
          f"(best {best['success_rate']:.1%} at {best['iteration']}) in {wall:.0f} s", flush=True)
    return {"mode": mode, "seed": seed, "wall_s": wall, "sft": curve[0][1], "final": curve[-1][1],
            "best": best["success_rate"], "best_iteration": best["iteration"], "curve": curve,
            "load_average": load}


def summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def spread(key: str) -> dict[str, float]:
        values = [r[key] for r in runs]
        return {"mean": statistics.fmean(values), "min": min(values), "max": max(values)}

    return {"sft": spread("sft"), "final": spread("final"), "best": spread("best"), "wall_s": spread("wall_s"),
            "rl_beats_sft_every_seed": all(r["final"] > r["sft"] for r in runs),
            "final_at_least_85_every_seed": all(r["final"] >= 0.85 for r in runs)}


def plot(runs: list[dict[str, Any]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(6.5, 3.8))
    styles = ("-", "--", ":")  # one line style per mode, one colour per seed
    for index, mode in enumerate(dict.fromkeys(r["mode"] for r in runs)):
        for run in (r for r in runs if r["mode"] == mode):
            xs, ys = zip(*run["curve"])
            axis.plot(xs, [100 * y for y in ys], color=f"C{run['seed'] % 10}", linestyle=styles[index % 3],
                      marker="o", markersize=3, alpha=0.8,
                      label=f"{mode}, seed {run['seed']}" if len(runs) <= 6 else None)
    axis.set_xlabel("RL iteration (0 = after SFT)")
    axis.set_ylabel("held-out success, greedy (%)")
    axis.set_title("agentrl train (quickstart): greedy success on 500 held-out rooms, one line per run", fontsize=9)
    axis.grid(alpha=0.3)
    axis.legend(fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--modes", nargs="+", choices=list(MODES), default=["sync"])
    parser.add_argument("--jobs", type=int, default=1, help="runs at once (each uses one torch thread)")
    parser.add_argument("--keep", default=None,
                        help="keep the run folders here (default: a temporary folder); finished runs are reused")
    args = parser.parse_args(argv)
    plan = [(mode, seed) for mode in args.modes for seed in range(args.seeds)]
    with tempfile.TemporaryDirectory(prefix="quickstart-bench-") as scratch, \
            ThreadPoolExecutor(max(1, args.jobs)) as pool:
        folder = Path(args.keep or scratch)
        folder.mkdir(parents=True, exist_ok=True)
        runs = list(pool.map(lambda item: run_one(*item, folder), plan))
    rows, by_mode = [], {}
    for mode in args.modes:
        mine = [r for r in runs if r["mode"] == mode]
        by_mode[mode] = summary(mine)
        for r in mine:
            rows.append([mode, r["seed"], f"{r['sft']:.1%}", f"{r['final']:.1%}",
                         f"{r['best']:.1%} (it. {r['best_iteration']})", f"{r['wall_s']:.0f} s"])
        s = by_mode[mode]
        rows.append([mode, "mean [min, max]", *(f"{s[k]['mean']:.1%} [{s[k]['min']:.1%}, {s[k]['max']:.1%}]"
                                                for k in ("sft", "final", "best")),
                     f"{s['wall_s']['mean']:.0f} s"])
    print()
    print_table(["mode", "seed", "after SFT", "final", "best", "wall"], rows)
    if "sync" in by_mode and "async" in by_mode:
        sync, asyn = by_mode["sync"]["final"], by_mode["async"]["final"]
        print(f"\nasync - sync, final success: {asyn['mean'] - sync['mean']:+.1%} "
              f"(seed ranges: sync {sync['max'] - sync['min']:.1%}, async {asyn['max'] - asyn['min']:.1%})")
    plot(runs, IMAGES / "quickstart.png")
    write_results("quickstart", {"command": command_line("quickstart.py", argv or sys.argv[1:]),
                                 "jobs": args.jobs, "runs": runs, "summary": by_mode,
                                 "plot": "docs/images/quickstart.png"})
    return 0


if __name__ == "__main__":
    sys.exit(main())
