"""Reward-pipeline cost per 1,000 turns of each stage, and ImplicitPRM throughput, on this machine.

    python benchmarks/rewards.py            # prints a table, writes benchmarks/results/rewards.json

Baselines measured in the same run:

* G-RA against D-RA (the ungated per-turn sum every framework does); target: G-RA < 1 ms / 1k turns.
* ADS (progress horizon updated on every batch) against writing a fixed gamma; target < 1 ms / 1k turns.
* CALM with a language-model judge (the tiny offline model) on a warm cache against the cold run;
  target: zero judge calls when warm.
* ImplicitPRM scoring against the plain log-prob forward pass the learner already does over the
  same tokens (the PRM's overhead), and scoring + one DPO step.

Batches are real Sokoban rollouts: random-policy episodes for the turn-level stages, and episodes
of the tiny LM policy (exact token records) for the PRM. Times are the best of several repeats,
because the machine is shared; the median is reported too.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import RESULTS as RESULTS_DIR, print_table

import agentrl
from agentrl.core.policy import RandomPolicy
from agentrl.rollout import grouped_specs, run_episodes
from agentrl.core.trajectory import TrajectoryBatch
from agentrl.envs.sokoban.expert import SolverPolicy
from agentrl.rewards import (
    AutoDiscountSchedule,
    CALMCredit,
    GatedRewardAccumulation,
    HFJudge,
    ImplicitPRM,
    OracleJudge,
    RewardHackingMonitor,
)
from agentrl.rewards.ads import trajectory_states

RESULTS = RESULTS_DIR / "rewards.json"


def timed(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best and median wall time in seconds, after one untimed warm-up run."""
    run()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return min(times), statistics.median(times)


def sokoban_batch(min_turns: int, seed: int = 0) -> TrajectoryBatch:
    """Random and noisy-expert Sokoban episodes (a mix of successes and failures)."""
    envs = [agentrl.make("agentrl/Sokoban-v0") for _ in range(8)]
    batch = TrajectoryBatch()
    start = seed
    while batch.num_turns < min_turns:
        batch.extend(run_episodes(envs, RandomPolicy(seed=start), grouped_specs(range(start, start + 8), 4)))
        batch.extend(
            run_episodes(
                envs, SolverPolicy(epsilon=0.3, seed=start), grouped_specs(range(start, start + 8), 2)
            )
        )
        start += 8
    return batch


def per_1k(seconds: float, turns: int) -> float:
    return seconds * 1000.0 * 1000.0 / turns


def stage_rows(batch: TrajectoryBatch, repeats: int) -> list[dict]:
    turns = batch.num_turns
    rows = []

    def row(name, run, baseline=None, target=None, **extra):
        best, median = timed(run, repeats)
        rows.append(
            {
                "stage": name,
                "ms_per_1k_turns": per_1k(best, turns),
                "median_ms_per_1k_turns": per_1k(median, turns),
                "baseline": baseline,
                "target_ms_per_1k_turns": target,
                **extra,
            }
        )

    dra = GatedRewardAccumulation(priorities={"finished": 1}, thresholds={"finished": 1.0}, gate=False)
    gra = GatedRewardAccumulation(priorities={"finished": 1}, thresholds={"finished": 1.0})
    row("D-RA (baseline)", lambda: dra(batch))
    row("G-RA", lambda: gra(batch), baseline="D-RA (baseline)", target=1.0)

    def fixed_gamma():
        for turn in batch.turns():
            turn.fields["gamma"] = 0.9

    row("fixed gamma (baseline)", fixed_gamma)
    # a fresh schedule each repeat, so the update loop runs in full (up to 5 horizon checks)
    row(
        "ADS (env progress)",
        lambda: AutoDiscountSchedule(horizon=20)(batch),
        baseline="fixed gamma (baseline)",
        target=1.0,
    )
    demos = {t.task_id: [trajectory_states(t)] for t in batch if t.success}  # successes as demos
    row(
        "ADS (demonstrations)",
        lambda: AutoDiscountSchedule(horizon=20, demonstrations=demos)(batch),
        baseline="fixed gamma (baseline)",
    )
    row("CALM (oracle judge)", lambda: CALMCredit(judge=OracleJudge(), beta=1.0)(batch))
    monitor = RewardHackingMonitor(immediate_components=["step", "box", "format"])
    row("monitor", lambda: monitor(batch))
    for item in rows:
        if item["baseline"]:
            base = next(r for r in rows if r["stage"] == item["baseline"])
            item["ratio_to_baseline"] = item["ms_per_1k_turns"] / base["ms_per_1k_turns"]
    return rows


def calm_cache_rows(batch: TrajectoryBatch, episodes: int) -> list[dict]:
    """Cold then warm runs of CALM with the tiny LM judge on Sokoban's env-listed subgoals.

    The tiny model's replies are unparseable; they are cached like any verdict (and counted).
    """
    judge_batch = TrajectoryBatch(copy.deepcopy(batch.trajectories[:episodes]))
    turns = judge_batch.num_turns
    rows = []
    with tempfile.TemporaryDirectory() as cache_dir:
        judge = HFJudge(model="tiny", max_new_tokens=16)
        judge.complete("warm up")  # model load is not part of the per-turn cost
        for label in ("cold", "warm"):
            stage = CALMCredit(judge=judge, beta=1.0, cache_dir=cache_dir)  # a new stage: a new process
            start = time.perf_counter()
            out = stage(copy.deepcopy(judge_batch))
            seconds = time.perf_counter() - start
            stage.cache.close()
            rows.append(
                {
                    "stage": f"CALM (tiny LM judge, {label} cache)",
                    "turns": turns,
                    "ms_per_1k_turns": per_1k(seconds, turns),
                    "judge_calls": out.metrics["calm/judge_calls"] + out.metrics["calm/decompose_calls"],
                    "cache_hits": out.metrics["calm/cache_hits"],
                    "unparseable": out.metrics["calm/unparseable"],
                }
            )
    rows[1]["baseline"] = rows[0]["stage"]
    rows[1]["ratio_to_baseline"] = rows[1]["ms_per_1k_turns"] / rows[0]["ms_per_1k_turns"]
    rows[1]["target_judge_calls"] = 0
    return rows


def lm_batch(episodes: int, seed: int = 0):
    from agentrl.models import tiny_causal_lm, tiny_tokenizer
    from agentrl.policies.generation import GenerationConfig
    from agentrl.policies.hf import HFPolicy

    tokenizer = tiny_tokenizer()
    model = tiny_causal_lm(seed=seed)
    policy = HFPolicy(model, tokenizer, GenerationConfig(max_new_tokens=24), seed=seed)
    envs = [agentrl.make("agentrl/Sokoban-v0", max_turns=5) for _ in range(episodes)]
    batch = run_episodes(envs, policy, grouped_specs(range(episodes // 2), 2))
    for i, traj in enumerate(batch):  # invented outcomes, so that every group has a DPO pair
        traj.success = i % 2 == 0
    return model, batch


def prm_rows(episodes: int, repeats: int) -> list[dict]:
    from agentrl.models.logprobs import collate_segments, token_logprobs

    model, batch = lm_batch(episodes)
    tokens = sum(len(t.token_ids) for t in batch.turns())
    generated = sum(sum(t.loss_mask) for t in batch.turns())
    turns = batch.num_turns
    segments = [s for t in batch for s in t.segments()]

    def plain_forward():
        with torch.no_grad():
            for start in range(0, len(segments), 8):
                collated = collate_segments(segments[start : start + 8])
                token_logprobs(model, collated.input_ids, collated.attention_mask)

    scorer = ImplicitPRM(model=copy.deepcopy(model), update=False)
    learner = ImplicitPRM(model=copy.deepcopy(model), lr=1e-5)
    rows = []
    for name, run, baseline in (
        ("plain log-prob forward (baseline)", plain_forward, None),
        ("ImplicitPRM score", lambda: scorer(batch), "plain log-prob forward (baseline)"),
        ("ImplicitPRM score + DPO step", lambda: learner(batch), "plain log-prob forward (baseline)"),
    ):
        best, median = timed(run, repeats)
        rows.append(
            {
                "stage": name,
                "tokens": tokens,
                "generated_tokens": generated,
                "turns": turns,
                "tokens_per_s": tokens / best,
                "median_tokens_per_s": tokens / median,
                "ms_per_1k_turns": per_1k(best, turns),
                "baseline": baseline,
            }
        )
    for item in rows[1:]:
        item["ratio_to_baseline"] = rows[0]["tokens_per_s"] / item["tokens_per_s"]  # slowdown factor
    return rows


def print_titled_table(title: str, rows: list[dict], columns: list[str]) -> None:
    print(f"\n{title}")
    print_table(columns, [[r.get(c) for c in columns] for r in rows], fmt=fmt)


def fmt(value) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def print_report(result: dict, repeats: int) -> None:
    turns = result["batch"]["turns"]
    print_titled_table(
        f"Stage cost on {turns} Sokoban turns (ms per 1,000 turns; best of {repeats})",
        result["stages"],
        ["stage", "ms_per_1k_turns", "median_ms_per_1k_turns", "target_ms_per_1k_turns", "ratio_to_baseline"],
    )
    print_titled_table(
        "CALM with an LM judge: cold vs warm persistent cache",
        result["calm_cache"],
        [
            "stage",
            "turns",
            "judge_calls",
            "cache_hits",
            "unparseable",
            "ms_per_1k_turns",
            "ratio_to_baseline",
        ],
    )
    print_titled_table(
        "ImplicitPRM throughput (tiny Llama, CPU)",
        result["prm"],
        ["stage", "tokens", "tokens_per_s", "ms_per_1k_turns", "ratio_to_baseline"],
    )
    print("\nTargets met:", ", ".join(f"{k}={v}" for k, v in result["targets_met"].items()))


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--turns", type=int, default=1000, help="turns in the stage-cost batch (at least)")
    parser.add_argument("--repeats", type=int, default=30, help="repeats per stage timing (best is reported)")
    parser.add_argument("--prm-episodes", type=int, default=16, help="LM-policy episodes for PRM throughput")
    parser.add_argument("--judge-episodes", type=int, default=6, help="episodes judged by the tiny LM judge")
    args = parser.parse_args(argv)
    torch.manual_seed(0)

    batch = sokoban_batch(args.turns)
    stages = stage_rows(batch, args.repeats)
    calm = calm_cache_rows(batch, args.judge_episodes)
    prm = prm_rows(args.prm_episodes, max(3, args.repeats // 10))

    gra = next(r for r in stages if r["stage"] == "G-RA")
    ads = next(r for r in stages if r["stage"] == "ADS (env progress)")
    result = {
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor(),
            "torch_threads": torch.get_num_threads(),
            "cuda": torch.cuda.is_available(),
        },
        "batch": {
            "turns": batch.num_turns,
            "episodes": len(batch),
            "success_rate": batch.summary()["success_rate"],
        },
        "stages": stages,
        "calm_cache": calm,
        "prm": prm,
        "targets_met": {
            "gra_under_1ms_per_1k_turns": gra["ms_per_1k_turns"] < 1.0,
            "ads_under_1ms_per_1k_turns": ads["ms_per_1k_turns"] < 1.0,
            "calm_warm_cache_no_judge_calls": calm[1]["judge_calls"] == 0,
        },
    }
    print_report(result, args.repeats)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {RESULTS}")
    return result


if __name__ == "__main__":
    main()
