"""Rollout and learner throughput of the LM agent on Sokoban, and peak memory.

    python benchmarks/learner.py --threads 1               # tiny model, CPU (1 thread: see below)
    python benchmarks/learner.py --device cuda --model PATH

Measured in one run, on the same model and the same 16 episodes (16 Sokoban rooms), for both
prompt modes of ``HFPolicy``: ``last`` (a fresh prompt every turn, as the quickstart) and ``full``
(the growing multi-turn episode):

* rollout, batched: ``HFPolicy`` acts for all 16 envs at once (one KV-cached generation per turn);
* rollout, env by env (the baseline): the same policy called with one input at a time, each
  episode played to the end before the next starts. The ratio of generated tokens per second is
  the speed-up (target: at least 4x);
* learner: one ``Learner.update`` (clipped policy loss, per-turn credit) on the batched rollout,
  as tokens per second through the forward and backward passes (all tokens of the sequences) and
  generated (trained) tokens per second;
* peak memory: max RSS of the process on CPU (``resource.getrusage``), and
  ``torch.cuda.max_memory_allocated`` per phase on CUDA.

Writes ``benchmarks/results/learner.json``. Each phase keeps the best of ``--repeats`` runs (same
seeds, same episodes). On a CPU shared with other jobs, ``--threads 1`` avoids torch's threads
waiting on each other, which otherwise slows small-batch generation by up to 10x.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from dataclasses import replace
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS, max_rss_bytes, print_table

from agentrl.core.registry import make
from agentrl.rollout import grouped_specs, run_episodes
from agentrl.models.loading import load_causal_lm, load_tokenizer
from agentrl.policies.generation import GenerationConfig
from agentrl.train.agents import LMAgent
from agentrl.train.config import RLConfig
from agentrl.train.advantages import batch_advantages
from agentrl.train.learner import Learner

ENV_ID = "agentrl/Sokoban-v0"
TARGET_SPEEDUP = 4.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", choices=("cpu", "cuda"), default="cpu")
    parser.add_argument("--model", default="tiny", help="'tiny' (built from a config) or a local model path")
    parser.add_argument("--hidden", type=int, default=128, help="tiny model hidden size")
    parser.add_argument("--layers", type=int, default=4, help="tiny model layers")
    parser.add_argument("--envs", type=int, default=16, help="envs (and episodes) in the rollout")
    parser.add_argument("--max-turns", type=int, default=6)
    parser.add_argument("--max-new-tokens", type=int, default=16)
    parser.add_argument("--contexts", nargs="+", choices=("last", "full"), default=["last", "full"],
                        help="prompt modes to measure: a fresh prompt per turn, or the growing episode")
    parser.add_argument("--system-prompt", action="store_true",
                        help="send the env's instructions as a system message (the quickstart does not)")
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--bf16", action="store_true", help="bf16 autocast in the learner (CUDA only)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (0: default)")
    parser.add_argument("--out", default=str(RESULTS / "learner.json"))
    return parser.parse_args(argv)


def build_agent(args) -> LMAgent:
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda but torch sees no CUDA device; run with --device cpu")
    tokenizer = load_tokenizer(args.model)
    tiny = {"hidden_size": args.hidden, "num_layers": args.layers, "num_heads": 4, "seed": 0}
    model = load_causal_lm(args.model, tiny_kwargs=tiny)
    generation = GenerationConfig(max_new_tokens=args.max_new_tokens, max_context_tokens=4096, context="full",
                                  system_prompt=args.system_prompt)
    return LMAgent(model, tokenizer, generation, device=args.device, seed=0, bf16=args.bf16)


def timed_rollout(agent: LMAgent, envs: list, specs, repeats: int) -> dict:
    """Best-of-``repeats`` rollout of ``specs`` over ``envs`` with the agent's acting policy."""
    best = None
    for _ in range(repeats):
        agent.policy.reseed(0)
        _sync(agent.device)
        start = time.perf_counter()
        batch = run_episodes(envs, agent.policy, specs)
        _sync(agent.device)
        seconds = time.perf_counter() - start
        generated = sum(sum(turn.loss_mask) for turn in batch.turns())
        run = {"seconds": seconds, "generated_tokens": generated, "turns": batch.num_turns,
               "episodes": len(batch), "tokens_per_s": generated / seconds, "batch": batch}
        if best is None or run["tokens_per_s"] > best["tokens_per_s"]:
            best = run
    return best


def timed_update(agent: LMAgent, batch, repeats: int) -> dict:
    """Best-of-``repeats`` learner update on ``batch``; weights are restored between repeats."""
    config = RLConfig(epochs=1, minibatch_size=64, lr=1e-4)
    credit = batch_advantages(batch, "turn", normalize=True)
    units = agent.units(batch)
    tokens = sum(len(turn.token_ids) for unit in units for turn in unit)
    trained = sum(sum(turn.loss_mask) for unit in units for turn in unit)
    initial = {k: v.detach().clone() for k, v in agent.model.state_dict().items()}
    best = None
    for _ in range(repeats):
        agent.model.load_state_dict(initial)
        learner = Learner(agent, config, seed=0)
        _reset_peak(agent.device)
        _sync(agent.device)
        start = time.perf_counter()
        stats = learner.update(batch, credit, seed=0)
        _sync(agent.device)
        seconds = time.perf_counter() - start
        run = {"seconds": seconds, "tokens": tokens, "trained_tokens": trained, "segments": len(units),
               "tokens_per_s": tokens / seconds, "trained_tokens_per_s": trained / seconds,
               "loss": stats.get("learner/loss"), "peak_cuda_bytes": _peak(agent.device)}
        if best is None or run["tokens_per_s"] > best["tokens_per_s"]:
            best = run
    return best


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _reset_peak(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)


def _peak(device: torch.device) -> int | None:
    return int(torch.cuda.max_memory_allocated(device)) if device.type == "cuda" else None


def _one_decimal(value) -> str:
    return f"{value:,.1f}" if isinstance(value, float) else str(value)


def run_context(agent: LMAgent, context: str, envs: list, specs, repeats: int) -> dict:
    """Batched against env-by-env rollouts, then one learner update, for one context mode."""
    agent.policy.config = replace(agent.policy.config, context=context)
    _reset_peak(agent.device)
    batched = timed_rollout(agent, envs, specs, repeats)
    rollout_peak = _peak(agent.device)
    sequential = timed_rollout(agent, envs[:1], specs, repeats)
    update = timed_update(agent, batched.pop("batch"), repeats)
    sequential.pop("batch")
    speedup = batched["tokens_per_s"] / sequential["tokens_per_s"]
    return {"batched": batched, "env_by_env": sequential, "speedup": speedup, "learner": update,
            "cuda_rollout_peak_bytes": rollout_peak}


def report(args, results: dict, params: int) -> None:
    print(f"\n{ENV_ID} 6x6, {args.envs} episodes of up to {args.max_turns} turns, model={args.model} "
          f"({params / 1e6:.2f}M params), device={args.device}, threads={torch.get_num_threads()}\n")
    rows = []
    for context, r in results.items():
        seq, bat, upd = r["env_by_env"], r["batched"], r["learner"]
        rows += [
            [f"context={context}: rollout env by env (baseline)", seq["seconds"], seq["generated_tokens"],
             seq["tokens_per_s"], "", "1.0x"],
            [f"context={context}: rollout batched over {args.envs} envs", bat["seconds"], bat["generated_tokens"],
             bat["tokens_per_s"], "", f"{r['speedup']:.1f}x"],
            [f"context={context}: learner update", upd["seconds"], upd["tokens"], upd["tokens_per_s"],
             upd["trained_tokens_per_s"], ""],
        ]
    headers = ["phase", "seconds", "tokens", "tokens/s", "trained tokens/s", "vs env-by-env"]
    print_table(headers, rows, fmt=_one_decimal)
    memory = results_memory(results)
    line = f"\npeak memory: max RSS {memory['max_rss_bytes'] / 2**20:,.0f} MiB"
    if args.device == "cuda":
        line += "; CUDA allocated: " + ", ".join(
            f"{c} rollout {r['cuda_rollout_peak_bytes'] / 2**20:,.0f} MiB, learner "
            f"{r['learner']['peak_cuda_bytes'] / 2**20:,.0f} MiB" for c, r in results.items())
    print(line)
    for context, r in results.items():
        verdict = "PASS" if r["speedup"] >= TARGET_SPEEDUP else "FAIL"
        print(f"batched generation speed-up, context={context}: {r['speedup']:.1f}x (target >= {TARGET_SPEEDUP:g}x): "
              f"{verdict}")


def results_memory(results: dict) -> dict:
    return {"max_rss_bytes": max_rss_bytes(),
            "cuda_peak_bytes": max((r["learner"]["peak_cuda_bytes"] or 0 for r in results.values()), default=0)}


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    agent = build_agent(args)
    env_kwargs = {"dim_room": (6, 6), "num_boxes": 1, "max_turns": args.max_turns}
    envs = [make(ENV_ID, **env_kwargs) for _ in range(args.envs)]
    specs = grouped_specs(range(1000, 1000 + args.envs), 1)
    results = {context: run_context(agent, context, envs, specs, args.repeats) for context in args.contexts}
    params = sum(p.numel() for p in agent.model.parameters())
    report(args, results, params)
    payload = {
        "benchmark": "learner",
        "command": "python benchmarks/learner.py " + " ".join(sys.argv[1:] if argv is None else argv),
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "device": args.device,
                    "cuda_device": torch.cuda.get_device_name() if args.device == "cuda" else None,
                    "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d")},
        "config": {k: v for k, v in vars(args).items() if k != "out"} | {"parameters": params},
        "target_speedup": TARGET_SPEEDUP, "contexts": results, "memory": results_memory(results),
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2))
    print(f"\nwrote {out}")
    return payload


if __name__ == "__main__":
    main()
