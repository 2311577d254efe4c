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

``--mfu`` measures the learner alone against the hardware's limit:

    python benchmarks/learner.py --mfu --device cuda --arch qwen2-0.5b      # a GPU
    python benchmarks/learner.py --mfu --arch qwen2-tiny --threads 1         # the same code on a CPU

It builds a real architecture with random weights (``qwen2-0.5b``: Qwen2-0.5B's configuration,
494M parameters; ``qwen2-tiny``: the same architecture at CPU size), makes synthetic multi-turn
segments (turns of prompt and generated tokens, lengths drawn around ``--prompt-tokens`` and
``--generated-tokens``), and times ``Learner.update`` (forward, backward, optimizer step; bf16
autocast on CUDA) with padded rows, with packed rows (``policy.pack_sequences``), and packed with
gradient checkpointing. Reported per layout: tokens/s through the model, trained tokens/s, the
padding share of the rows, peak CUDA memory, and on CUDA the model FLOPs utilisation: model FLOPs
(PaLM's convention: ``6 N`` per token for the ``N`` parameters in matmuls, plus ``12 L d s`` per
token of a length-``s`` sequence for attention, full, not halved for causality) per second over the
GPU's dense bf16 peak (a table of known GPUs, or ``--peak-tflops``). Writes
``benchmarks/results/learner_mfu.json`` (``learner_mfu_cuda.json`` on CUDA).
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


#: Architectures for ``--mfu`` (random weights): transformers config class and its arguments.
ARCHS = {
    "qwen2-0.5b": ("Qwen2Config", {"hidden_size": 896, "intermediate_size": 4864, "num_hidden_layers": 24,
                                   "num_attention_heads": 14, "num_key_value_heads": 2, "vocab_size": 151936,
                                   "max_position_embeddings": 32768, "rope_theta": 1_000_000.0,
                                   "rms_norm_eps": 1e-6, "tie_word_embeddings": True}),
    "qwen2-tiny": ("Qwen2Config", {"hidden_size": 128, "intermediate_size": 384, "num_hidden_layers": 4,
                                   "num_attention_heads": 4, "num_key_value_heads": 2, "vocab_size": 0,
                                   "max_position_embeddings": 8192, "tie_word_embeddings": True}),
}
#: Dense bf16 tensor-core peak (TFLOP/s, no sparsity) by GPU name fragment; the first match wins.
PEAK_BF16_TFLOPS = (("H100 NVL", 835.0), ("H100 PCIe", 756.0), ("H100", 989.4), ("H200", 989.4),
                    ("GH200", 989.4), ("A100", 312.0), ("L40S", 362.0), ("L4", 121.0))


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
    parser.add_argument("--out", default=None, help="results file (default: results/learner.json, or "
                        "learner_mfu[_cuda].json with --mfu)")
    mfu = parser.add_argument_group("--mfu: the learner alone on synthetic turns of a real architecture")
    mfu.add_argument("--mfu", action="store_true")
    mfu.add_argument("--arch", choices=tuple(ARCHS), default="qwen2-tiny")
    mfu.add_argument("--segments", type=int, default=16, help="segments (episodes) per update")
    mfu.add_argument("--turns", type=int, default=4, help="most turns per segment (each has 1 to this many)")
    mfu.add_argument("--prompt-tokens", type=int, default=96, help="mean prompt tokens per turn")
    mfu.add_argument("--generated-tokens", type=int, default=48, help="mean generated tokens per turn")
    mfu.add_argument("--accumulation", type=int, default=2, help="micro-batches per update")
    mfu.add_argument("--peak-tflops", type=float, default=None, help="the GPU's dense bf16 peak (default: table)")
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


# ------------------------------------------------------------------------------- --mfu
def mfu_model(arch: str, vocab: int):
    import transformers

    name, kwargs = ARCHS[arch]
    config = getattr(transformers, name)(**{**kwargs, "vocab_size": kwargs["vocab_size"] or vocab})
    torch.manual_seed(0)
    return transformers.AutoModelForCausalLM.from_config(config)


def synthetic_batch(args, vocab: int, seed: int = 0):
    """Segments of 1 to ``--turns`` turns (episodes end at different turns), each turn prompt then
    generated tokens, lengths uniform in [0.5, 1.5] times the means; random token ids; advantages of
    +-1."""
    import numpy as np

    from agentrl.core.trajectory import Trajectory, Turn
    from agentrl.train.advantages import Advantages

    rng = np.random.default_rng(seed)
    trajectories = []
    for _ in range(args.segments):
        turns = []
        for k in range(int(rng.integers(1, args.turns + 1))):
            prompt = int(rng.integers(args.prompt_tokens // 2, args.prompt_tokens * 3 // 2 + 1))
            generated = int(rng.integers(max(1, args.generated_tokens // 2), args.generated_tokens * 3 // 2 + 1))
            ids = rng.integers(4, vocab, size=prompt + generated).tolist()
            turns.append(Turn(observation="", action="", token_ids=ids, new_context=k == 0,
                              logprobs=[0.0] * prompt + (-rng.random(generated) * 4).tolist(),
                              loss_mask=[0] * prompt + [1] * generated))
        trajectories.append(Trajectory(turns=turns, group_id="g"))
    advantages = Advantages(advantages=[rng.choice([-1.0, 1.0], size=len(t.turns)) for t in trajectories],
                            returns=[np.zeros(len(t.turns)) for t in trajectories])
    return trajectories, advantages


def model_flops(model, segment_lengths: list[int]) -> float:
    """Training FLOPs of one pass over the segments, PaLM's convention (module docstring)."""
    config = model.config
    embedding = model.get_input_embeddings().weight.numel()
    tied = getattr(config, "tie_word_embeddings", False)
    matmul_params = sum(p.numel() for p in model.parameters()) - (0 if tied else embedding)
    attention_width = config.num_attention_heads * getattr(config, "head_dim", None) \
        if getattr(config, "head_dim", None) else config.hidden_size
    return float(sum(6 * matmul_params * s + 12 * config.num_hidden_layers * attention_width * s * s
                     for s in segment_lengths))


def peak_flops(args, device: torch.device) -> tuple[float | None, str]:
    if device.type != "cuda":
        return None, platform.processor() or "cpu"
    name = torch.cuda.get_device_name(device)
    if args.peak_tflops:
        return args.peak_tflops * 1e12, name
    for fragment, tflops in PEAK_BF16_TFLOPS:
        if fragment in name:
            return tflops * 1e12, name
    return None, name


def padding_share(units, accumulation: int, packed: bool) -> float:
    from agentrl.models.logprobs import collate_segments, pack_segments

    layout = pack_segments if packed else collate_segments
    chunks = [units[i::accumulation] for i in range(accumulation)]
    cells = sum(layout(chunk).attention_mask.numel() for chunk in chunks if chunk)
    tokens = sum(len(turn.token_ids) for unit in units for turn in unit)
    return 1.0 - tokens / cells


def time_learner(args, tokenizer, layout: str, batch, advantages, device: torch.device) -> dict:
    from agentrl.policies.generation import GenerationConfig

    model = mfu_model(args.arch, len(tokenizer))
    agent = LMAgent(model, tokenizer, GenerationConfig(max_context_tokens=1 << 20), device=device, seed=0,
                    bf16=device.type == "cuda", pack_sequences=layout != "padded",
                    gradient_checkpointing=layout == "packed+checkpointing")
    config = RLConfig(epochs=1, minibatch_size=args.segments, grad_accumulation=args.accumulation, lr=1e-6)
    learner = Learner(agent, config, seed=0)
    learner.update(batch, advantages, seed=0)  # warm-up: allocator, kernels
    units = agent.units(batch)
    tokens = sum(len(turn.token_ids) for unit in units for turn in unit)
    best = None
    for repeat in range(args.repeats):
        _reset_peak(device)
        _sync(device)
        start = time.perf_counter()
        learner.update(batch, advantages, seed=repeat + 1)
        _sync(device)
        seconds = time.perf_counter() - start
        if best is None or seconds < best:
            best = seconds
    flops = model_flops(agent.model, [sum(len(t.token_ids) for t in unit) for unit in units])
    params = sum(p.numel() for p in agent.model.parameters())
    result = {"seconds": best, "tokens": tokens, "tokens_per_s": tokens / best,
              "trained_tokens_per_s": sum(sum(t.loss_mask) for u in units for t in u) / best,
              "padding_share": padding_share(units, args.accumulation, layout != "padded"),
              "model_tflops_per_s": flops / best / 1e12, "peak_cuda_bytes": _peak(device), "parameters": params}
    del agent, learner, model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return result


def run_mfu(args) -> dict:
    if args.device == "cuda" and not torch.cuda.is_available():
        sys.exit("--device cuda but torch sees no CUDA device; run with --device cpu")
    device = torch.device(args.device)
    tokenizer = load_tokenizer("tiny")
    vocab = mfu_model(args.arch, len(tokenizer)).config.vocab_size
    batch, advantages = synthetic_batch(args, vocab)
    peak, device_name = peak_flops(args, device)
    layouts = {layout: time_learner(args, tokenizer, layout, batch, advantages, device)
               for layout in ("padded", "packed", "packed+checkpointing")}
    for result in layouts.values():
        result["mfu"] = result["model_tflops_per_s"] * 1e12 / peak if peak else None
    params = layouts["padded"]["parameters"]
    print(f"\nlearner on {device_name}: {args.arch} ({params / 1e6:.1f}M params, random weights), "
          f"{args.segments} segments of 1-{args.turns} turns, bf16 autocast={device.type == 'cuda'}, "
          f"threads={torch.get_num_threads()}\n")
    rows = [[layout, r["seconds"], r["tokens"], r["tokens_per_s"], r["trained_tokens_per_s"],
             f"{100 * r['padding_share']:.0f}%", f"{r['model_tflops_per_s']:.3g}",
             f"{100 * r['mfu']:.1f}%" if r["mfu"] is not None else "n/a (no GPU)",
             f"{r['peak_cuda_bytes'] / 2**30:.2f}" if r["peak_cuda_bytes"] else "-"] for layout, r in layouts.items()]
    print_table(["layout", "update s", "tokens", "tokens/s", "trained tok/s", "padding", "model TFLOP/s", "MFU",
                 "peak GiB"], rows, fmt=_one_decimal)
    print(f"\npacked vs padded: {layouts['packed']['tokens_per_s'] / layouts['padded']['tokens_per_s']:.2f}x tokens/s")
    return {
        "benchmark": "learner_mfu",
        "command": "python benchmarks/learner.py " + " ".join(sys.argv[1:]),
        "machine": {"python": platform.python_version(), "torch": torch.__version__, "device": device_name,
                    "threads": torch.get_num_threads(), "cpus": os.cpu_count(), "date": time.strftime("%Y-%m-%d")},
        "config": {k: v for k, v in vars(args).items() if k != "out"},
        "peak_flops": peak, "layouts": layouts,
        "packed_vs_padded": layouts["packed"]["tokens_per_s"] / layouts["padded"]["tokens_per_s"],
    }


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.mfu:
        payload = run_mfu(args)
        out = Path(args.out or RESULTS / f"learner_mfu{'_cuda' if args.device == 'cuda' else ''}.json")
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(json.dumps(payload, indent=2))
        print(f"\nwrote {out}")
        return payload
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
    out = Path(args.out or RESULTS / "learner.json")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(payload, indent=2))
    print(f"\nwrote {out}")
    return payload


if __name__ == "__main__":
    main()
