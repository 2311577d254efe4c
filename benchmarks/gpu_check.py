"""A few iterations of ``agentrl.train`` on CUDA in bf16: rollout and learner throughput, peak memory.

    python benchmarks/gpu_check.py                       # needs a CUDA device
    python benchmarks/gpu_check.py --pack-sequences --gradient-checkpointing --async-rollouts
    python benchmarks/gpu_check.py --device cpu --hidden 64 --layers 2 --heads 4 \\
        --iterations 2 --tasks 2 --group 2 --num-envs 4 --max-turns 3 --sft-episodes 4 --sft-steps 2
                                                          # the same code path on a CPU, tiny sizes

The model is a Llama built from a config (hidden 512, 8 layers by default, 33.6M parameters,
random weights: no download), with the shipped character tokenizer. The run is the real trainer
(``agentrl.train.loop.Trainer``, what ``agentrl.train`` runs) on Sokoban with the full multi-turn
context: a short SFT warm start, then RL iterations of batched rollouts, per-turn credit and
clipped updates under bf16 autocast. Only ``Learner.update`` is wrapped, to time it and count its
tokens. Prints a table and writes ``benchmarks/results/gpu_check.json``.
"""

from __future__ import annotations

import argparse
import json
import math
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

from _common import RESULTS  # noqa: E402  (this folder is sys.path[0] when run as a script)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cuda", "cpu"), default="cuda")
    parser.add_argument("--hidden", type=int, default=512)
    parser.add_argument("--layers", type=int, default=8)
    parser.add_argument("--heads", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=4)
    parser.add_argument("--tasks", type=int, default=16, help="tasks per iteration")
    parser.add_argument("--group", type=int, default=4, help="samples per task")
    parser.add_argument("--num-envs", type=int, default=64, help="episodes played at once")
    parser.add_argument("--max-turns", type=int, default=10)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--minibatch", type=int, default=32, help="segments per optimizer step")
    parser.add_argument("--sft-episodes", type=int, default=64)
    parser.add_argument("--sft-steps", type=int, default=50)
    parser.add_argument("--no-bf16", action="store_true", help="disable bf16 autocast (on by default)")
    parser.add_argument("--pack-sequences", action="store_true", help="policy.pack_sequences (packed learner rows)")
    parser.add_argument("--gradient-checkpointing", action="store_true", help="policy.gradient_checkpointing")
    parser.add_argument("--async-rollouts", action="store_true",
                        help="rl.async_rollouts with max_staleness=1 and the decoupled correction")
    parser.add_argument("--out", default=str(RESULTS / "gpu_check.json"))
    return parser.parse_args(argv)


def require_device(name: str) -> torch.device:
    """Fail fast, before building anything, when CUDA was asked for and is absent."""
    if name == "cuda" and not torch.cuda.is_available():
        sys.exit("gpu_check: no CUDA device is visible to torch (torch.cuda.is_available() is False; "
                 f"torch {torch.__version__}, CUDA build {torch.version.cuda}). Run it on a GPU machine, "
                 "or rehearse the code path with --device cpu and small sizes.")
    return torch.device(name)


def train_config(args, output_dir: str) -> dict:
    return {
        "env": {"id": "agentrl/Sokoban-v0", "kwargs": {"dim_room": [6, 6], "num_boxes": 1, "max_turns": args.max_turns}},
        "policy": {"kind": "lm", "model": "tiny",
                   "tiny": {"hidden_size": args.hidden, "num_layers": args.layers, "num_heads": args.heads},
                   "context": "full", "max_new_tokens": args.max_new_tokens, "max_context_tokens": 2048,
                   "pack_sequences": args.pack_sequences, "gradient_checkpointing": args.gradient_checkpointing},
        "sft": {"episodes": args.sft_episodes, "steps": args.sft_steps, "batch_size": 32, "lr": 1e-3},
        "rl": {"iterations": args.iterations, "tasks_per_iteration": args.tasks, "group_size": args.group,
               "num_envs": args.num_envs, "minibatch_size": args.minibatch, "lr": 1e-5,
               "async_rollouts": args.async_rollouts, "max_staleness": 1,
               "importance_correction": "decoupled" if args.async_rollouts else "none"},
        "eval": {"episodes": 16, "every": args.iterations},
        "run": {"output_dir": output_dir, "device": args.device, "bf16": not args.no_bf16, "resume": False,
                "progress": False, "tensorboard": False, "checkpoint_every": args.iterations, "seed": 0},
    }


class TimedLearner:
    """Wraps one trainer's ``learner.update``: seconds, tokens and CUDA peak of every call."""

    def __init__(self, trainer):
        self.trainer = trainer
        self.update = trainer.learner.update
        self.calls: list[dict] = []
        trainer.learner.update = self

    def __call__(self, trajectories, credit, *, seed, **options):
        agent, device = self.trainer.agent, self.trainer.device
        units = agent.units(trajectories)
        tokens = sum(len(turn.token_ids) for unit in units for turn in unit)
        trained = sum(sum(turn.loss_mask) for unit in units for turn in unit)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
            torch.cuda.reset_peak_memory_stats(device)
        start = time.perf_counter()
        stats = self.update(trajectories, credit, seed=seed, **options)
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        self.calls.append({"seconds": seconds, "tokens": tokens, "trained_tokens": trained,
                           "tokens_per_s": tokens / seconds, "trained_tokens_per_s": trained / seconds,
                           "peak_cuda_bytes": int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None,
                           "loss": stats.get("learner/loss")})
        return stats


def run(args) -> dict:
    from agentrl.train.config import load_config
    from agentrl.train.loop import Trainer

    with tempfile.TemporaryDirectory(prefix="agentrl-gpu-check-") as output_dir:
        trainer = Trainer(load_config(train_config(args, output_dir)))
        model = trainer.agent.model
        timer = TimedLearner(trainer)
        started = time.perf_counter()
        result = trainer.run()
        total = time.perf_counter() - started
    iterations = [r for r in result.metrics if r.get("iteration", 0) >= 1 and "time/rollout_s" in r]
    return {"model": model, "iterations": iterations, "learner": timer.calls, "total_seconds": total,
            "metrics": result.metrics}


def summarise(args, device: torch.device, outcome: dict) -> dict:
    rows = []
    for record, learner in zip(outcome["iterations"], outcome["learner"]):
        generated = record["learner/trained_tokens"]
        # Asynchronous actors play while the learner trains: their rate is over the whole iteration.
        rollout_s = record["time/iteration_s"] if args.async_rollouts else record["time/rollout_s"]
        rows.append({"iteration": record["iteration"], "rollout_s": record["time/rollout_s"],
                     "generated_tokens": round(generated), "rollout_tokens_per_s": generated / max(rollout_s, 1e-9),
                     "learner_s": learner["seconds"], "learner_tokens": learner["tokens"],
                     "learner_tokens_per_s": learner["tokens_per_s"],
                     "learner_trained_tokens_per_s": learner["trained_tokens_per_s"],
                     "loss": learner["loss"], "success_rate": record.get("rollout/success_rate"),
                     "mean_turns": record.get("rollout/mean_turns")})
    steady = rows[1:] or rows  # the first iteration pays for CUDA kernel selection and warm-up
    model = outcome["model"]
    return {
        "benchmark": "gpu_check",
        "command": "python benchmarks/gpu_check.py " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "cuda": torch.version.cuda,
                    "device": torch.cuda.get_device_name(device) if device.type == "cuda" else platform.processor() or "cpu",
                    "date": time.strftime("%Y-%m-%d")},
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "model": {"parameters": sum(p.numel() for p in model.parameters()), "weights_dtype": str(next(model.parameters()).dtype),
                  "device": str(next(model.parameters()).device), "bf16_autocast": device.type == "cuda" and not args.no_bf16},
        "iterations": rows,
        "steady_state": {
            "rollout_tokens_per_s": _mean(r["rollout_tokens_per_s"] for r in steady),
            "learner_tokens_per_s": _mean(r["learner_tokens_per_s"] for r in steady),
            "learner_trained_tokens_per_s": _mean(r["learner_trained_tokens_per_s"] for r in steady),
        },
        "memory": {"peak_cuda_allocated_bytes": int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None,
                   "peak_cuda_learner_bytes": max((c["peak_cuda_bytes"] or 0 for c in outcome["learner"]), default=None),
                   "max_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024},
        "total_seconds": outcome["total_seconds"],
        "finite_losses": all(r["loss"] is not None and math.isfinite(r["loss"]) for r in rows),
    }


def _mean(values) -> float:
    values = list(values)
    return sum(values) / len(values) if values else float("nan")


def print_report(summary: dict) -> None:
    m = summary["model"]
    print(f"\n{summary['machine']['device']}: Llama {summary['config']['hidden']}x{summary['config']['layers']} "
          f"({m['parameters'] / 1e6:.1f}M params, {m['weights_dtype']} weights, bf16 autocast={m['bf16_autocast']}), "
          f"Sokoban 6x6, full context\n")
    headers = ["iter", "rollout s", "gen tokens", "rollout tok/s", "learner s", "learner tok/s", "trained tok/s", "loss"]
    cells = [[str(r["iteration"]), f"{r['rollout_s']:.2f}", str(r["generated_tokens"]), f"{r['rollout_tokens_per_s']:,.0f}",
              f"{r['learner_s']:.2f}", f"{r['learner_tokens_per_s']:,.0f}", f"{r['learner_trained_tokens_per_s']:,.0f}",
              f"{r['loss']:.4f}"] for r in summary["iterations"]]
    widths = [max(len(h), *(len(c[i]) for c in cells)) for i, h in enumerate(headers)]
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))
    s, mem = summary["steady_state"], summary["memory"]
    print(f"\nsteady state: rollout {s['rollout_tokens_per_s']:,.0f} generated tokens/s, learner "
          f"{s['learner_tokens_per_s']:,.0f} tokens/s ({s['learner_trained_tokens_per_s']:,.0f} trained tokens/s)")
    if mem["peak_cuda_allocated_bytes"] is not None:
        print(f"peak CUDA memory allocated: {mem['peak_cuda_allocated_bytes'] / 2**30:.2f} GiB "
              f"(learner {mem['peak_cuda_learner_bytes'] / 2**30:.2f} GiB)")
    print(f"max RSS: {mem['max_rss_bytes'] / 2**30:.2f} GiB; finite losses: {summary['finite_losses']}; "
          f"total {summary['total_seconds']:.1f} s")


def main(argv=None) -> dict:
    args = parse_args(argv)
    device = require_device(args.device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    summary = summarise(args, device, run(args))
    print_report(summary)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(summary, indent=2))
    print(f"\nwrote {out}")
    if not summary["finite_losses"]:
        sys.exit("gpu_check: a learner loss was not finite")
    return summary


if __name__ == "__main__":
    main()
