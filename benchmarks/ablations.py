"""Ablations of the reward mechanisms: does each one do what its paper claims, at this scale?

    python benchmarks/ablations.py gra              # one ablation, 3 seeds per arm
    python benchmarks/ablations.py all --seeds 3    # every ablation
    python benchmarks/ablations.py oprl --quick     # a smoke run (tiny budgets, 1 seed)

Each ablation trains every arm with ``agentrl.train`` for several seeds on this machine, prints a
table (mean, min and max over seeds), writes ``benchmarks/results/ablations.json`` (merged across
runs) and a PNG of the curves to ``docs/images/ablation_<name>.png``. Arms differ only in the
mechanism under test; everything else (env, policy, SFT, seeds) is shared. An ablation with
``shared_sft`` runs the warm start (SFT and its evaluation) once per seed and starts every arm from
its checkpoint: the arms then begin RL from the very same weights, and SFT is paid for once.

* ``gra`` -- G-RA vs D-RA on a farmable immediate reward: Sokoban where every executed move pays
  +0.3 (like a tool call that pays whether or not it helps) and solving pays +1 and ends the
  episode. Ungated (D-RA), walking around until the turn limit pays more than solving; gated, the
  move rewards count only in solved episodes, yet inside a solved episode each move still pays, so
  stalling until the last turn and then solving pays most (the stall loophole). The third arm caps
  the moves' total at 1.0 per episode (``immediate_cap``), which every solve reaches (a room needs
  at least 4 moves, 1.2), so stalling earns nothing more. Grid CNN policy, PPO.
* ``oprl`` -- OPRL's implicit PRM (started from the SFT policy) vs outcome-only reward, tiny LM on
  Sokoban with only the ``finished`` reward; both arms of a seed start RL from one SFT
  (``shared_sft``); greedy and sampled success curves and the PRM's pair accuracy.
* ``ads`` -- ADS (horizon scheduled against the solver's demonstrations, measured on greedy held-out
  episodes) vs a fixed discount, on two-box Sokoban with the grid policy; success and the horizon.
* ``calm`` -- CALM shaping (the oracle judge's subgoal credit, one box placed) vs none on two-box
  Sokoban with the outcome reward only. The judge harness (precision/recall of judges on recorded
  MiniHack KeyRoom transitions) is ``benchmarks/calm_judges.py``.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, machine, print_table

import agentrl
from agentrl.train.checkpoint import latest_checkpoint

IMAGES = Path(__file__).resolve().parent.parent / "docs" / "images"

# ------------------------------------------------------------------------------------ configs
SOKOBAN_GRID = {"dim_room": [6, 6], "num_boxes": 1, "max_turns": 15, "min_solution_moves": 4,
                "observation_mode": "dict"}
TWO_BOX_GRID = {"dim_room": [7, 7], "num_boxes": 2, "max_turns": 20, "min_solution_moves": 6,
                "observation_mode": "dict"}


def grid_run(env_kwargs: dict, iterations: int, **overrides: Any) -> dict[str, Any]:
    """A grid-CNN PPO run (the grid-ppo preset's learner) on a Sokoban variant."""
    config: dict[str, Any] = {
        "env": {"id": "agentrl/Sokoban-v0", "kwargs": env_kwargs},
        "policy": {"kind": "grid", "grid_net": "cnn", "grid_hidden": 128},
        # SFT leaves the policy competent but far from perfect (about 20-40% on one box), so that
        # the arms differ in what RL does with it: keep and improve it, or trade it for a loophole.
        "sft": {"episodes": 300, "steps": 300, "batch_size": 128, "lr": 0.001},
        "rl": {"iterations": iterations, "tasks_per_iteration": 32, "group_size": 2, "num_envs": 64,
               "advantage": "gae", "gamma": 0.97, "gae_lambda": 0.95, "lr": 0.0003, "epochs": 4,
               "minibatch_size": 256, "entropy_coef": 0.01, "value_coef": 0.5},
        "eval": {"episodes": 200, "every": max(1, iterations // 8), "greedy": True},
        "run": {"checkpoint_every": iterations, "progress": False, "tensorboard": False, "threads": 1},
    }
    return merge(config, overrides)


def lm_run(env_kwargs: dict, iterations: int, **overrides: Any) -> dict[str, Any]:
    """A tiny-LM run (the quickstart's learner) on a Sokoban variant."""
    config: dict[str, Any] = {
        "env": {"id": "agentrl/Sokoban-v0", "kwargs": env_kwargs},
        "policy": {"kind": "lm", "model": "tiny", "tiny": {"hidden_size": 64, "num_layers": 4, "num_heads": 4},
                   "context": "last", "system_prompt": False, "max_new_tokens": 6},
        # SFT success is steep in its length here (greedy, cosine: 300 steps 0%, 600 5-35%, 1,000
        # 81-88%). 650 steps gave 60% / 12% / 27% greedy on seeds 0-2, with sampled play solving
        # 30-75% of rooms: DPO pairs for OPRL, and room for RL to improve. RL as the quickstart's:
        # without its warm-up and KL penalty, outcome-only RL fell from 60% to 21% in 30 iterations
        # (seed 0).
        "sft": {"episodes": 600, "steps": 650, "batch_size": 64, "lr": 0.001, "lr_schedule": "cosine",
                "warmup_steps": 30},
        "rl": {"iterations": iterations, "tasks_per_iteration": 8, "group_size": 4, "num_envs": 32,
               "advantage": "episode", "lr": 0.0001, "warmup_iterations": 10, "epochs": 1, "kl_coef": 0.05,
               "minibatch_size": 128},
        "eval": {"episodes": 100, "every": max(1, iterations // 3), "greedy": True},
        "run": {"checkpoint_every": iterations, "progress": False, "tensorboard": False, "threads": 1},
    }
    return merge(config, overrides)


def merge(base: dict, extra: dict) -> dict:
    out = dict(base)
    for key, value in extra.items():
        out[key] = merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


FARMABLE = {**SOKOBAN_GRID, "rewards": {"step": 0.3, "box_on_goal": 0.0, "box_off_goal": 0.0, "finished": 1.0}}
OUTCOME_ONLY_LM = {"dim_room": [6, 6], "num_boxes": 1, "max_turns": 15, "min_solution_moves": 4,
                   "rewards": {"step": 0.0, "box_on_goal": 0.0, "box_off_goal": 0.0, "finished": 1.0}}
OUTCOME_ONLY_TWO_BOX = {**TWO_BOX_GRID, "rewards": {"step": 0.0, "box_on_goal": 0.0, "box_off_goal": 0.0,
                                                    "finished": 1.0}}
GATE = {"type": "GatedRewardAccumulation", "priorities": {"finished": 1}, "thresholds": {"finished": 1.0}}
#: FARMABLE's moves may earn at most what solving pays; every room needs >= 4 moves (1.2), so every
#: direct solve reaches the cap and stalling earns nothing more.
MOVE_CAP = 1.0


def ablations(quick: bool) -> dict[str, dict[str, Any]]:
    """Arms of each ablation (``quick`` shrinks budgets for a smoke run)."""
    short = (lambda n: max(2, n // 20)) if quick else (lambda n: n)
    return {
        "gra": {
            "claim": "G-RA stops an agent farming a per-step reward; its immediate cap closes the stall loophole",
            "arms": {
                "D-RA (ungated)": grid_run(FARMABLE, short(150), rewards=[{**GATE, "gate": False}]),
                "G-RA (paper, uncapped)": grid_run(FARMABLE, short(150), rewards=[GATE]),
                "G-RA + immediate cap": grid_run(FARMABLE, short(150),
                                                 rewards=[{**GATE, "immediate_cap": MOVE_CAP}]),
            },
            "metrics": ("eval/success_rate", "eval/mean_turns"),
        },
        "oprl": {
            "claim": "OPRL's implicit process rewards speed up learning from a sparse outcome reward",
            # Both arms of a seed start RL from the same SFT checkpoint.
            "shared_sft": True,
            "arms": {
                "outcome only": lm_run(OUTCOME_ONLY_LM, short(30), eval={"every": 5}),
                "outcome + OPRL": lm_run(OUTCOME_ONLY_LM, short(30), eval={"every": 5},
                                         rewards=[{"type": "ImplicitPRM", "model": "@policy", "lr": 1e-4,
                                                   "beta": 0.05}]),
            },
            "metrics": ("eval/success_rate", "rollout/success_rate", "rewards/oprl/pair_accuracy"),
        },
        "ads": {
            "claim": "ADS (discount scheduled by mastery against demonstrations) beats a fixed discount",
            "arms": {
                "fixed gamma 0.97": grid_run(TWO_BOX_GRID, short(120)),
                "ADS (expert demos)": grid_run(TWO_BOX_GRID, short(120), rewards=[
                    {"type": "AutoDiscountSchedule", "demonstrations": "expert", "horizon": 20}]),
            },
            "metrics": ("eval/success_rate", "rewards/ads/horizon"),
        },
        "calm": {
            "claim": "CALM's subgoal credit (oracle judge) speeds up learning from a sparse outcome reward",
            "arms": {
                "outcome only": grid_run(OUTCOME_ONLY_TWO_BOX, short(120)),
                "outcome + CALM": grid_run(OUTCOME_ONLY_TWO_BOX, short(120), rewards=[
                    {"type": "CALMCredit", "judge": "oracle", "beta": 0.5}]),
            },
            "metrics": ("eval/success_rate", "rewards/calm/achieved"),
        },
    }


# ------------------------------------------------------------------------------------ running
def run_arm(config: dict, seed: int, folder: Path, *, resume: bool = False) -> list[dict[str, Any]]:
    """Train ``config`` in ``folder``; with ``resume``, from the checkpoint already there (see
    :func:`start_from`), accepting that its task settings (the rewards) differ."""
    config = merge(config, {"run": {"seed": seed, "output_dir": str(folder), "resume": resume,
                                    "allow_changes": resume}})
    started = time.perf_counter()
    result = agentrl.train(config)
    records = result.metrics
    records.append({"wall_s": time.perf_counter() - started})
    return records


def warm_start(config: dict, seed: int, folder: Path) -> float:
    """Run only the warm start of ``config`` (evaluation, SFT, evaluation, checkpoint 0) in
    ``folder``, on raw rewards; returns its wall time."""
    records = run_arm(merge(config, {"rl": {"iterations": 0}, "rewards": []}), seed, folder)
    return records[-1]["wall_s"]


def start_from(warm: Path, folder: Path) -> None:
    """Give ``folder`` the warm start's checkpoint and its iteration-0 metrics (the SFT evaluation),
    so that a run there resumes at iteration 0 with the SFT weights."""
    checkpoint = latest_checkpoint(warm)
    if checkpoint is None:
        raise RuntimeError(f"the warm start in {warm} left no checkpoint")
    root = folder / "checkpoints"
    root.mkdir(parents=True)
    shutil.copytree(checkpoint, root / checkpoint.name)
    (root / "latest").write_text(checkpoint.name)
    shutil.copy(warm / "metrics.jsonl", folder / "metrics.jsonl")


def check_shared_sft(arms: dict[str, dict]) -> None:
    """Arms may share a warm start only if they differ in nothing but ``rl`` and ``rewards``."""
    def warm_part(config: dict) -> dict:
        return {key: value for key, value in config.items() if key not in ("rl", "rewards")}

    first, *others = arms.items()
    for arm, config in others:
        if warm_part(config) != warm_part(first[1]):
            raise ValueError(f"shared_sft: arm {arm!r} differs from {first[0]!r} outside rl and rewards, "
                             "so it cannot start from the same SFT checkpoint")


def last(records: list[dict], key: str) -> float | None:
    values = [r[key] for r in records if key in r]
    return float(values[-1]) if values else None


def curve(records: list[dict], key: str) -> list[tuple[int, float]]:
    """``key`` per iteration; at iteration 0 the value after SFT (``sft/...``) where there is one."""
    after_sft = "sft/" + key.split("/", 1)[-1]
    return [(int(r["iteration"]), float(r.get(after_sft, r[key]) if r["iteration"] == 0 else r[key]))
            for r in records if key in r and "iteration" in r]


def summarise(values: list[float]) -> dict[str, float]:
    return {"mean": statistics.fmean(values), "min": min(values), "max": max(values),
            "std": statistics.stdev(values) if len(values) > 1 else 0.0}


def run_ablation(name: str, spec: dict, seeds: list[int]) -> dict[str, Any]:
    shared = spec.get("shared_sft", False)
    if shared:
        check_shared_sft(spec["arms"])
    runs_by_arm: dict[str, list[dict[str, Any]]] = {arm: [] for arm in spec["arms"]}
    with tempfile.TemporaryDirectory(prefix=f"ablation-{name}-") as scratch:
        # Seed-major: with a shared SFT, every arm of a seed runs while its warm start is at hand.
        for seed in seeds:
            warm, sft_wall = Path(scratch) / f"sft-{seed}", None
            if shared:
                print(f"== {name}: shared SFT, seed {seed}", flush=True)
                sft_wall = warm_start(next(iter(spec["arms"].values())), seed, warm)
            for arm, config in spec["arms"].items():
                print(f"== {name}: {arm}, seed {seed}", flush=True)
                folder = Path(scratch) / f"{arm.replace(' ', '_')}-{seed}"
                if shared:
                    start_from(warm, folder)
                records = run_arm(config, seed, folder, resume=shared)
                run = {"seed": seed, "wall_s": records[-1]["wall_s"],
                       "final": {k: last(records[:-1], k) for k in spec["metrics"]},
                       "sft_success": last([r for r in records if "sft/success_rate" in r], "sft/success_rate"),
                       "curves": {k: curve(records[:-1], k) for k in spec["metrics"]}}
                if shared:
                    run["shared_sft_wall_s"] = sft_wall
                runs_by_arm[arm].append(run)
    arms = {arm: {"runs": runs, "summary": {
        key: summarise([r["final"][key] for r in runs if r["final"][key] is not None])
        for key in spec["metrics"] if any(r["final"][key] is not None for r in runs)}}
        for arm, runs in runs_by_arm.items()}
    return {"claim": spec["claim"], "seeds": seeds, "shared_sft": shared, "arms": arms}


def report(name: str, result: dict[str, Any]) -> None:
    print(f"\n{name}: {result['claim']}")
    rows = []
    for arm, data in result["arms"].items():
        cells = [arm]
        for key, s in data["summary"].items():
            cells.append(f"{key.split('/')[-1]} {s['mean']:.3g} [{s['min']:.3g}, {s['max']:.3g}]")
        sft = [r["shared_sft_wall_s"] for r in data["runs"] if r.get("shared_sft_wall_s") is not None]
        cells.append(f"{statistics.fmean(r['wall_s'] for r in data['runs']):.0f} s/run"
                     + (f" + {statistics.fmean(sft):.0f} s shared SFT" if sft else ""))
        rows.append(cells)
    width = max(len(r) for r in rows)
    print_table(["arm", *[f"metric {i}" for i in range(1, width - 1)], "time"], [r + [""] * (width - len(r)) for r in rows])


def plot(name: str, result: dict[str, Any], keys: tuple[str, ...]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(keys), figsize=(5.5 * len(keys), 3.8))
    axes = [axes] if len(keys) == 1 else list(axes)
    for axis, key in zip(axes, keys):
        for index, (arm, data) in enumerate(result["arms"].items()):
            colour = f"C{index}"
            for run in data["runs"]:
                points = run["curves"].get(key) or []
                if points:
                    xs, ys = zip(*points)
                    axis.plot(xs, ys, color=colour, alpha=0.35, linewidth=1)
            means = _mean_curve([run["curves"].get(key) or [] for run in data["runs"]])
            if means:
                xs, ys = zip(*means)
                axis.plot(xs, ys, color=colour, linewidth=2.2, label=arm)
        axis.set_title(key)
        axis.set_xlabel("RL iteration")
        axis.legend(fontsize=8)
    fig.suptitle(f"{name}: {result['claim']} ({len(result['seeds'])} seeds, thin lines per seed)", fontsize=9)
    fig.tight_layout()
    IMAGES.mkdir(parents=True, exist_ok=True)
    path = IMAGES / f"ablation_{name}.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _mean_curve(curves: list[list[tuple[int, float]]]) -> list[tuple[int, float]]:
    by_x: dict[int, list[float]] = {}
    for points in curves:
        for x, y in points:
            by_x.setdefault(x, []).append(y)
    return [(x, statistics.fmean(ys)) for x, ys in sorted(by_x.items()) if len(ys) == len(curves)]


def replot(name: str, specs: dict[str, dict[str, Any]]) -> int:
    saved = json.loads((RESULTS / "ablations.json").read_text()).get("ablations", {})
    for ablation in (list(saved) if name == "all" else [name]):
        for data in saved[ablation]["arms"].values():  # results written before curves began after SFT
            for run in data["runs"]:
                points = run["curves"].get("eval/success_rate") or []
                if points and points[0][0] == 0 and run.get("sft_success") is not None:
                    points[0] = [0, run["sft_success"]]
        print(plot(ablation, saved[ablation], specs[ablation]["metrics"]))
    return 0


def main(argv: list[str] | None = None) -> int:
    specs_quick = ablations(quick=True)
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=[*specs_quick, "all"])
    parser.add_argument("--seeds", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="tiny budgets and one seed (a smoke run)")
    parser.add_argument("--replot", action="store_true", help="redraw the PNGs from ablations.json, run nothing")
    args = parser.parse_args(argv)
    if args.replot:
        return replot(args.name, ablations(quick=False))
    specs = ablations(quick=args.quick)
    names = list(specs) if args.name == "all" else [args.name]
    seeds = [0] if args.quick else list(range(args.seeds))
    path = RESULTS / "ablations.json"
    for name in names:
        result = run_ablation(name, specs[name], seeds)
        report(name, result)
        if not args.quick:
            result["plot"] = str(plot(name, result, specs[name]["metrics"]).relative_to(IMAGES.parent.parent))
            result["command"] = f"python benchmarks/ablations.py {name} --seeds {len(seeds)}"
            result["machine"] = machine()
            # Read just before writing: ablations run as separate processes side by side merge here.
            RESULTS.mkdir(parents=True, exist_ok=True)
            saved = json.loads(path.read_text()) if path.exists() else {}
            saved.setdefault("ablations", {})[name] = result
            path.write_text(json.dumps(saved, indent=2))
            print(f"\nwrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
