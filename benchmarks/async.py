"""Asynchronous against synchronous training on envs whose steps wait on real I/O, in one run.

    python benchmarks/async.py                         # both cases, 10 RL iterations per mode
    python benchmarks/async.py --cases router --iterations 6 --latency-sigma 0.35

Each case trains the same tiny LM from the same starting weights with ``agentrl.train``, once per
mode, with the same envs (``rl.num_envs``) and batch (``tasks_per_iteration x group_size``):

* **sync** (the baseline), once per ``--sync-waves`` (default 1 and 2): play the iteration's episodes,
  then update. With waves the slots take turns (generation overlaps the env's waits) in a fixed
  order; each wave's round ends with its slowest step. The baseline is the **fastest** sync run of the
  same repeat, whichever wave count that was.
* **async**, once per ``--async-staleness`` (``rl.max_staleness``, default 1 and 2):
  ``rl.async_rollouts=true``, ``rl.importance_correction=decoupled``,
  ``rollout.policy_process=true`` (the actors' policy in a child process), ``rollout.waves`` from
  ``--async-waves`` (default 0: one wave per env slot, so each slot steps on its own and the policy
  acts for every slot whose step came back): the actors play the next episodes with the latest
  weights while the learner updates, and a slow call holds up its own episode only.

Reported per mode: the RL loop's wall time (the sum of ``time/iteration_s``: waiting for episodes
plus the update), trained tokens per second (generated tokens the learner trained on), env steps per
second (every step the actors played, including episodes played ahead), the mean staleness of
trained turns and the groups dropped as stale; the async/sync ratios; and what overlapping the
update with the fastest sync run's rollouts could give at most, ``(rollout + update) / max(rollout,
update)``, so the share of the gain that comes from not waiting for stragglers shows.

Cases:

* ``router`` -- ``agentrl/Router-v0`` (``chat`` protocol, Router-R1's six candidates) with
  ``backend=openai``: every routed call is an HTTP request to an OpenAI-compatible server on
  loopback, in a separate process, that answers as the offline simulated pool does after a delay
  drawn per call from a log-normal distribution: median 0.5 s for the 7-8B models, 1.0 s for
  Gemma-27B, 1.5 s for the 70B and 8x22B models, times ``--latency-scale``, with ``--latency-sigma``
  (default 1.0: the 95th percentile is 5.2x the median and the 99th 10x). The medians are our
  assumption for hosted models answering a short sub-question, not measured from a provider. The
  default tail follows what LLM API users report: end-to-end latency (queueing, prefill, a decode
  as long as the answer) has a heavy right tail, the slowest requests 5-20x the median (e.g. p50
  620 ms, p95 2.8 s, p99 8.2 s in costhawk.ai's glossary entry "P95 / P99 Latency"); 0.35 is a light
  tail (p95 1.8x the median). The draw is seeded by (model, query), so every mode meets the same
  delays for the same calls. The router is a tiny LM SFT'd on the oracle router's demonstrations
  (once, on the simulated backend; every mode starts from that checkpoint), so it does route; one
  PPO epoch per batch. Target: async >= 2x trained tokens/s.
* ``swe`` -- ``agentrl/SWE-v0`` on Docker with ``autosubmit``: each episode resets a sandbox
  (repository upload), steps, and is graded in a fresh sandbox at the turn limit. The policy is an
  untrained tiny LM (no SFT: the gold-patch expert's actions are too long for it), so its actions
  are mostly malformed: the Docker time is the sandbox reset and the grading of each episode.

Writes ``benchmarks/results/async.json``.
"""

from __future__ import annotations

import argparse
import copy
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import command_line, print_table, write_results

#: Median latency (seconds) of a routed call, by model size (hosted 7-70B models answering ~30 tokens).
MEDIAN_LATENCY = {"Qwen2.5-7B-Instruct": 0.5, "LLaMA-3.1-8B-Instruct": 0.5, "Mistral-7B-Instruct": 0.5,
                  "Gemma-2-27B-Instruct": 1.0, "LLaMA-3.1-70B-Instruct": 1.5, "Mixtral-8x22B-Instruct": 1.5}
LATENCY_SIGMA = 1.0
TARGET = 2.0


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", choices=("router", "swe"), default=["router", "swe"])
    parser.add_argument("--iterations", type=int, default=10, help="RL iterations per mode")
    parser.add_argument("--latency-scale", type=float, default=1.0, help="multiplies the router's call latencies")
    parser.add_argument("--latency-sigma", type=float, default=LATENCY_SIGMA,
                        help="sigma of the log-normal call latency (1.0: p95 is 5.2x the median; 0.35: a light tail)")
    parser.add_argument("--router-envs", type=int, default=32,
                        help="rl.num_envs of the router case in every mode (32: the whole batch of 8 tasks x 4 "
                        "samples at once)")
    parser.add_argument("--threads", type=int, default=1,
                        help="torch CPU threads per process (default 1: on a small shared CPU, torch's own "
                        "threads waiting on each other slow tiny-model generation by up to 20x)")
    parser.add_argument("--backend", choices=("local", "ray"), default="local",
                        help="rollout backend of every mode: envs in the trainer's process (stepped from "
                        "threads), or on Ray actors (processes of their own)")
    parser.add_argument("--sync-waves", type=int, nargs="+", default=[1, 2],
                        help="rollout.waves of the sync runs, one run each; the fastest is the baseline")
    parser.add_argument("--async-staleness", type=int, nargs="+", default=[1, 2],
                        help="rl.max_staleness of the async runs, one run each")
    parser.add_argument("--async-waves", type=int, default=0,
                        help="rollout.waves of the async run (0: one wave per env slot, or per Ray worker)")
    parser.add_argument("--repeats", type=int, default=1,
                        help="repeats of every mode per case, alternating which goes first (the ratio is the median repeat's)")
    parser.add_argument("--keep", default=None, help="keep the run folders here (default: a temporary folder); "
                        "a router warm start already there is reused")
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)  # the latency server process
    return parser.parse_args(argv)


# ------------------------------------------------------------------------------ the latency server
def serve(latency_scale: float, latency_sigma: float) -> None:
    """Run the OpenAI-compatible server with simulated-pool answers after a realistic delay; print
    the port, serve until stdin closes."""
    import numpy as np

    from agentrl.envs.router.router_r1 import router_r1_pool
    from agentrl.envs.router.simulated import SimulatedBackend
    from agentrl.serving import OpenAICompatServer

    names = {m.api_model or m.name: m.name for m in router_r1_pool()}
    answers = SimulatedBackend(seed=0)

    def responder(model: str, messages: list, params: dict) -> str:
        name = names.get(model, model)
        query = messages[-1]["content"]
        digest = hashlib.sha256(f"{name}|{query}".encode()).digest()
        draw = np.random.default_rng(int.from_bytes(digest[:8], "big")).standard_normal()
        time.sleep(MEDIAN_LATENCY.get(name, 1.0) * latency_scale * float(np.exp(latency_sigma * draw)))
        return answers.reply(name, query)

    with OpenAICompatServer(responder, max_workers=256) as server:
        print(server.port, flush=True)
        sys.stdin.read()  # until the benchmark closes the pipe


class LatencyServer:
    """The latency server in a child process (its CPU work stays off the trainer's interpreter)."""

    def __init__(self, latency_scale: float, latency_sigma: float):
        self.process = subprocess.Popen([sys.executable, __file__, "--serve", "--latency-scale", str(latency_scale),
                                         "--latency-sigma", str(latency_sigma)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        port = self.process.stdout.readline().strip()
        if not port.isdigit():
            self.close()
            raise RuntimeError("the latency server did not start")
        self.base_url = f"http://127.0.0.1:{port}/v1"

    def close(self) -> None:
        if self.process.stdin:
            self.process.stdin.close()
        try:
            self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()


# ------------------------------------------------------------------------------------ the cases
def router_config(args, output_dir: str) -> dict:
    """A tiny LM router on Router-v0's ``chat`` protocol (the ``router-r1`` prompt alone is ~4,400
    tokens of the character tokenizer), SFT'd on the oracle router's demonstrations."""
    return {
        "env": {"id": "agentrl/Router-v0", "kwargs": {"protocol": "chat", "alpha": 0.3, "max_turns": 3}},
        "policy": {"kind": "lm", "model": "tiny", "tiny": {"hidden_size": 96, "num_layers": 3, "num_heads": 4},
                   "context": "full", "system_prompt": False, "max_new_tokens": 128, "max_context_tokens": 1024},
        "sft": {"episodes": 300, "steps": 150, "batch_size": 16, "lr": 0.002},
        "rl": {"iterations": args.iterations, "tasks_per_iteration": 8, "group_size": 4,
               "num_envs": args.router_envs,
               "advantage": "episode", "baseline": "rloo", "lr": 1e-4, "epochs": 1, "minibatch_size": 32},
        "rollout": _rollout(args, args.router_envs),
        "eval": {"episodes": 0},
        "run": _run(args, output_dir),
    }


def router_over_http(config: dict, base_url: str, workdir: Path) -> dict:
    """The same env with every candidate served by ``base_url`` (a pool file, as a user writes one)."""
    from agentrl.envs.router.router_r1 import router_r1_pool

    config = copy.deepcopy(config)
    pool = workdir / "pool.json"
    pool.write_text(json.dumps({"models": [dict(vars(m), base_url=base_url, api_key="unused")
                                           for m in router_r1_pool()]}))
    config["env"]["kwargs"] = {**config["env"]["kwargs"], "backend": "openai", "pool_file": str(pool),
                               "calls": {"query_template": "{query}", "timeout_s": 60.0}}
    return config


def swe_config(args, output_dir: str) -> dict:
    return {
        "env": {"id": "agentrl/SWE-v0", "kwargs": {"backend": "docker", "max_turns": 2, "autosubmit": True,
                                                   "pool_size": 8}},
        "policy": {"kind": "lm", "model": "tiny", "tiny": {"hidden_size": 64, "num_layers": 2, "num_heads": 4},
                   "context": "last", "system_prompt": False, "max_new_tokens": 24, "max_context_tokens": 2048},
        "sft": {"episodes": 0},
        "rl": {"iterations": args.iterations, "tasks_per_iteration": 4, "group_size": 2, "num_envs": 8,
               "minibatch_size": 8, "lr": 1e-4},
        "rollout": _rollout(args, 8),
        "eval": {"episodes": 0},
        "run": _run(args, output_dir),
    }


def _rollout(args, envs: int) -> dict:
    """The case's ``num_envs`` envs, stepped from as many threads (their steps wait on I/O)."""
    if args.backend == "local":
        return {"threads": envs}
    return {"backend": "ray", "ray": {"num_workers": 2, "envs_per_worker": envs // 2, "threads_per_worker": envs // 2,
                                      "worker_num_cpus": 0.5}}


def _run(args, output_dir: str) -> dict:
    return {"output_dir": output_dir, "checkpoint_every": 10_000, "progress": False, "tensorboard": False,
            "threads": args.threads, "seed": 0}


def _with(config: dict, output_dir: str, asynchronous: bool, waves: int, max_staleness: int = 1) -> dict:
    """The case's config in one mode; ``waves=0``: one wave per env slot (local) or per Ray worker."""
    config = copy.deepcopy(config)
    config["run"]["output_dir"] = output_dir
    config["run"]["allow_changes"] = True  # the router runs continue the warm start with the HTTP backend
    config["rl"] = {**config["rl"], "async_rollouts": asynchronous, "max_staleness": max_staleness,
                    "importance_correction": "decoupled" if asynchronous else "none"}
    rollout = config.get("rollout", {})
    per_slot = rollout["ray"]["num_workers"] if rollout.get("backend") == "ray" else config["rl"]["num_envs"]
    config["rollout"] = {**rollout, "policy_process": asynchronous, "waves": waves or per_slot}
    return config


def _modes(args) -> list[tuple[str, bool, int, int]]:
    """(name, asynchronous, waves, max_staleness) of every mode of a repeat."""
    return ([(f"sync w{w}", False, w, 1) for w in args.sync_waves]
            + [(f"async s{k}", True, args.async_waves, k) for k in args.async_staleness])


# ------------------------------------------------------------------------------------ measuring
def train_mode(config: dict) -> dict:
    from agentrl.train.loop import train

    started = time.perf_counter()
    result = train(config)
    total = time.perf_counter() - started
    records = [r for r in result.metrics if r.get("iteration", 0) >= 1 and "time/iteration_s" in r]
    seconds = sum(r["time/iteration_s"] for r in records)
    trained = sum(r.get("learner/trained_tokens", 0.0) for r in records)
    steps = sum(r.get("rollout_engine/env_steps", 0.0) for r in records)
    trained_steps = sum(r.get("rollout/episodes", 0) * r.get("rollout/mean_turns", 0.0) for r in records)
    return {
        "iterations": len(records), "loop_seconds": seconds, "run_seconds": total,
        "trained_tokens": trained, "trained_tokens_per_s": trained / seconds,
        "env_steps": steps, "env_steps_per_s": steps / seconds,
        "trained_env_steps": trained_steps, "trained_env_steps_per_s": trained_steps / seconds,
        "update_seconds": sum(r["time/iteration_s"] - r["time/rollout_s"] for r in records),
        "wait_seconds": sum(r["time/rollout_s"] for r in records),
        "staleness_mean": _mean(r.get("learner/staleness_mean", 0.0) for r in records),
        "staleness_max": max((r.get("learner/staleness_max", 0.0) for r in records), default=0.0),
        "stale_dropped_groups": sum(r.get("rollout_engine/stale_dropped_groups", 0.0) for r in records),
        "is_ratio_mean": _mean(r["learner/is_ratio_mean"] for r in records if "learner/is_ratio_mean" in r),
        "success_rate": _mean(r.get("rollout/success_rate", 0.0) for r in records),
        # Without the first iteration, whose episodes nothing can overlap (the actors start with it).
        "steady_trained_tokens_per_s": sum(r.get("learner/trained_tokens", 0.0) for r in records[1:])
        / max(sum(r["time/iteration_s"] for r in records[1:]), 1e-9),
    }


def _mean(values) -> float | None:
    values = list(values)
    return sum(values) / len(values) if values else None


def run_case(name: str, args, workdir: Path) -> dict:
    base = (router_config if name == "router" else swe_config)(args, str(workdir / f"{name}-warm"))
    server = None
    try:
        if name == "router":
            from agentrl.train.loop import train

            if not (workdir / f"{name}-warm" / "checkpoints").exists():  # --keep DIR reuses a warm start
                warm = copy.deepcopy(base)
                warm["rl"]["iterations"] = 0
                started = time.perf_counter()
                train(warm)  # SFT once, on the simulated backend; both modes resume from its checkpoint
                print(f"router: SFT warm start {time.perf_counter() - started:.0f} s", flush=True)
            server = LatencyServer(args.latency_scale, args.latency_sigma)
            base = router_over_http(base, server.base_url, workdir)
        repeats = []
        for repeat in range(args.repeats):
            order = _modes(args) if repeat % 2 == 0 else _modes(args)[::-1]  # alternate who goes first
            modes = {}
            for mode, asynchronous, waves, max_staleness in order:
                out = workdir / f"{name}-{mode.replace(' ', '-')}"
                shutil.rmtree(out, ignore_errors=True)
                if name == "router":
                    shutil.copytree(workdir / f"{name}-warm", out)
                load_before = os.getloadavg()[0]  # other jobs on the machine (the 1-minute load average)
                config = _with(base, str(out), asynchronous, waves, max_staleness)
                modes[mode] = train_mode(config)
                modes[mode].update(waves=config["rollout"]["waves"], load_average_before=load_before,
                                   load_average=os.getloadavg()[0])
                print(f"{name} {mode}: {modes[mode]['loop_seconds']:.1f} s, "
                      f"{modes[mode]['trained_tokens_per_s']:.0f} trained tok/s", flush=True)
            repeats.append(_compare(modes))
    finally:
        if server is not None:
            server.close()
    # Per async mode: the ratios of every repeat, and the median (of an even number, the lower of the
    # middle two: never the flattering one). The table shows the repeat of the first async mode's median.
    ratios = {mode: sorted(r["vs_sync"][mode]["trained_tokens_per_s"] for r in repeats) for mode in repeats[0]["vs_sync"]}
    medians = {mode: values[(len(values) - 1) // 2] for mode, values in ratios.items()}
    first = next(iter(medians))
    shown = next(r for r in repeats if r["vs_sync"][first]["trained_tokens_per_s"] == medians[first])
    return {**shown, "repeats": repeats, "trained_tokens_per_s_ratios": ratios, "median_ratios": medians}


def _compare(modes: dict) -> dict:
    """Each async mode against the fastest sync run of one repeat."""
    sync_name = max((m for m in modes if m.startswith("sync")), key=lambda m: modes[m]["trained_tokens_per_s"])
    sync = modes[sync_name]
    vs_sync = {mode: {key: m[key] / sync[key] for key in ("trained_tokens_per_s", "steady_trained_tokens_per_s",
                                                           "env_steps_per_s", "trained_env_steps_per_s")}
               for mode, m in modes.items() if mode.startswith("async")}
    return {"modes": modes, "baseline": sync_name, "vs_sync": vs_sync,
            # Overlapping the update with the baseline's own rollouts, stragglers and all, gives at most this.
            "overlap_bound": sync["loop_seconds"] / max(sync["wait_seconds"], sync["update_seconds"])}


def report(results: dict) -> None:
    rows = []
    for name, case in results.items():
        for mode, m in case["modes"].items():
            versus = case["vs_sync"].get(mode)
            ratio = "baseline" if mode == case["baseline"] else (f"{versus['trained_tokens_per_s']:.2f}x" if versus else "")
            steps_ratio = f"{versus['env_steps_per_s']:.2f}x" if versus else ""
            rows.append([name, mode, m["waves"], f"{m['loop_seconds']:.1f}", f"{m['wait_seconds']:.1f}",
                         f"{m['update_seconds']:.1f}", f"{m['trained_tokens_per_s']:,.0f}", ratio,
                         f"{m['env_steps_per_s']:.2f}", steps_ratio, f"{m['staleness_mean']:.2f}",
                         f"{m['stale_dropped_groups']:.0f}",
                         f"{m.get('load_average_before', float('nan')):.1f}-{m['load_average']:.1f}"])
    print()
    print_table(["env", "mode", "waves", "loop s", "waiting s", "updating s", "trained tok/s", "vs sync", "env steps/s",
                 "vs sync", "staleness", "dropped groups", "load before-after"], rows)
    for name, case in results.items():
        for mode, ratios in case["trained_tokens_per_s_ratios"].items():
            print(f"{name} {mode}: async/sync trained tokens/s over {len(ratios)} repeat(s): "
                  + ", ".join(f"{r:.2f}x" for r in ratios) + f" (median {case['median_ratios'][mode]:.2f}x); "
                  f"without the first iteration (nothing to overlap yet) {case['vs_sync'][mode]['steady_trained_tokens_per_s']:.2f}x")
        print(f"{name}: overlapping the update with the baseline's rollouts alone could give at most "
              f"{case['overlap_bound']:.2f}x (the table shows the median repeat of the first async mode)")
    if "router" in results:
        for mode, ratio in results["router"]["median_ratios"].items():
            print(f"router (latency-bound), {mode}: async/sync trained tokens/s = {ratio:.2f}x (target >= {TARGET:g}x): "
                  f"{'met' if ratio >= TARGET else 'NOT met'}")


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.serve:
        serve(args.latency_scale, args.latency_sigma)
        return {}
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)
    workdir = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="agentrl-async-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    try:
        results = {name: run_case(name, args, workdir) for name in args.cases}
    finally:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
    report(results)
    payload = {"command": command_line("async.py", sys.argv[1:] if argv is None else argv),
               "config": {k: v for k, v in vars(args).items() if k not in ("serve", "keep")},
               "latency": {"median_s": MEDIAN_LATENCY, "sigma": args.latency_sigma, "scale": args.latency_scale},
               "target_ratio": TARGET, "cpus": os.cpu_count(), "cases": results}
    write_results("async", payload)
    return payload


if __name__ == "__main__":
    main()
