"""Router-v0 throughput: env steps per second with the replay backend, and the per-call overhead of
the HTTP (OpenAI-compatible) backend on loopback.

Baselines, measured in the same run:
* env steps/s with the replay backend is compared with the same episodes on the in-process
  simulated backend (ratio > 1: replay is faster);
* the HTTP backend's per-call time is compared with an in-process replay lookup of the same
  recorded responses (overhead = difference; ratio = HTTP / in-process).

    python benchmarks/router.py [--episodes 400] [--calls 300]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from agentrl.rollout import grouped_specs, run_episodes
from agentrl.envs.router.backends import CallSettings, OpenAIBackend, ReplayBackend
from agentrl.envs.router.baselines import RouteThenAnswer, uniform_random
from agentrl.envs.router.env import RouterEnv
from agentrl.envs.router.pool import ModelSpec
from agentrl.envs.router.simulated import SimulatedBackend, generate_task, simulated_pool
from agentrl.serving import OpenAICompatServer, ReplayResponder, ReplayTable

from _common import RESULTS as RESULTS_DIR  # noqa: E402  (this folder is sys.path[0] when run as a script)
RESULTS = RESULTS_DIR / "router.json"


def record_pool(seeds: range, path: Path) -> ReplayTable:
    """Record every simulated model's reply to every generated question (RouterBench style)."""
    backend, records = SimulatedBackend(), []
    for seed in seeds:
        question = generate_task(seed).question
        for model in simulated_pool():
            result = backend.call(model, question)
            records.append({"model": model.name, "query": question, "response": result.text,
                            "completion_tokens": result.completion_tokens})
    table = ReplayTable(records)
    table.to_jsonl(path)
    return table


def steps_per_second(env_kwargs: dict, episodes: int, num_envs: int = 8) -> float:
    envs = [RouterEnv(shared_cost_window=None, **env_kwargs) for _ in range(num_envs)]
    policy = RouteThenAnswer(uniform_random([m.name for m in simulated_pool()], seed=0))
    started = time.perf_counter()
    batch = run_episodes(envs, policy, grouped_specs(range(episodes), 1))
    elapsed = time.perf_counter() - started
    for env in envs:
        env.close()
    return batch.num_turns / elapsed


def per_call_seconds(backend, model: ModelSpec, queries: list[str], repeats: int = 1) -> list[float]:
    times = []
    for _ in range(repeats):
        for query in queries:
            started = time.perf_counter()
            result = backend.call(model, query)
            times.append(time.perf_counter() - started)
            assert result.ok, result.error
    return times


def run(episodes: int, calls: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "recorded.jsonl"
        table = record_pool(range(episodes), path)
        replay_sps = steps_per_second({"backend": "replay", "replay_files": [str(path)]}, episodes)
        simulated_sps = steps_per_second({"backend": "simulated"}, episodes)
        queries = [generate_task(seed).question for seed in range(calls)]
        local = per_call_seconds(ReplayBackend(table), simulated_pool()[0], queries, repeats=5)
        with OpenAICompatServer(ReplayResponder(table)) as server:
            # recordings are keyed by pool name and bare query: request the name, send the bare query
            pool = [dict(vars(m), base_url=server.base_url, api_model=None) for m in simulated_pool()]
            http_backend = OpenAIBackend(CallSettings())
            served = ModelSpec(**pool[0])
            per_call_seconds(http_backend, served, queries[:20])  # warm up the connection pool
            remote = per_call_seconds(http_backend, served, queries)
            bare = {"backend": "openai", "pool": pool, "calls": {"query_template": "{query}"}}
            http_sps = steps_per_second(bare, min(episodes, 200))
            http_backend.close()
    local_us, remote_us = statistics.median(local) * 1e6, statistics.median(remote) * 1e6
    return {
        "episodes": episodes,
        "calls": calls,
        "env_steps_per_s": {"replay": replay_sps, "simulated": simulated_sps, "http_replay": http_sps,
                            "replay_vs_simulated_ratio": replay_sps / simulated_sps},
        "per_call_us": {"in_process_replay_median": local_us, "http_replay_median": remote_us,
                        "http_p90": sorted(remote)[int(0.9 * len(remote))] * 1e6,
                        "http_overhead_median": remote_us - local_us,
                        "http_vs_in_process_ratio": remote_us / local_us},
    }


def print_table(result: dict) -> None:
    steps, calls = result["env_steps_per_s"], result["per_call_us"]
    rows = [
        ("env steps/s, replay backend", f"{steps['replay']:.0f}", f"simulated {steps['simulated']:.0f}",
         f"{steps['replay_vs_simulated_ratio']:.2f}x"),
        ("env steps/s, HTTP replay (loopback)", f"{steps['http_replay']:.0f}",
         f"replay {steps['replay']:.0f}", f"{steps['http_replay'] / steps['replay']:.3f}x"),
        ("per call, HTTP backend (median us)", f"{calls['http_replay_median']:.0f}",
         f"in-process {calls['in_process_replay_median']:.1f}", f"{calls['http_vs_in_process_ratio']:.0f}x"),
        ("HTTP overhead per call (median us)", f"{calls['http_overhead_median']:.0f}", "-", "-"),
    ]
    print(f"{'measurement':<38}{'value':>10}  {'baseline':<20}{'ratio':>10}")
    for name, value, baseline, ratio in rows:
        print(f"{name:<38}{value:>10}  {baseline:<20}{ratio:>10}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--episodes", type=int, default=400)
    parser.add_argument("--calls", type=int, default=300)
    args = parser.parse_args()
    result = run(args.episodes, args.calls)
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2), encoding="utf-8")
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
