"""WebShop benchmark: BM25 search latency on 100,000 products, env step cost, and rank_bm25 as baseline.

In one run it generates a 100,000-product catalog, builds (and caches) the bm25s index, times the
same queries (synthetic goal instructions, options and price clauses removed, as the expert
searches) through our search and through ``rank_bm25.BM25Okapi`` over the same tokens, and times
env steps that do not search (open an item, choose an option, open a sub page, go back, next
page). Targets: search p50 <= 5 ms, and at least 20x faster than rank_bm25.

    python benchmarks/webshop.py                 # full run (about a minute on 2 cores)
    python benchmarks/webshop.py --products 20000 --baseline-queries 20   # quick look
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import tempfile
import time
from pathlib import Path

import numpy as np

from agentrl.envs.webshop.env import WebShopEnv
from agentrl.envs.webshop.expert import parse_instruction
from agentrl.envs.webshop.pages import BACK_TO_SEARCH, BUY_NOW, NEXT_PAGE, PREV_PAGE, SEARCH_ACTION, SUB_PAGES
from agentrl.envs.webshop.search import SEARCH_RETURN_N, BM25Index, product_document, tokenize

from _common import RESULTS as RESULTS_DIR  # noqa: E402  (this folder is sys.path[0] when run as a script)
RESULTS = RESULTS_DIR / "webshop.json"


def percentiles(seconds: list[float]) -> dict[str, float]:
    ms = np.asarray(seconds) * 1000
    return {"p50_ms": float(np.percentile(ms, 50)), "p95_ms": float(np.percentile(ms, 95)), "n": len(ms)}


def time_search(index, queries: list[str]) -> tuple[list[float], list[list[int]]]:
    times, hits = [], []
    for query in queries:
        start = time.perf_counter()
        hits.append(index.search(query))
        times.append(time.perf_counter() - start)
    return times, hits


def time_rank_bm25(queries: list[str], documents: list[str]) -> tuple[float, list[float], list[list[int]]]:
    from rank_bm25 import BM25Okapi

    start = time.perf_counter()
    baseline = BM25Okapi([tokenize(doc) for doc in documents], k1=0.9, b=0.4)
    build_s = time.perf_counter() - start
    times, hits = [], []
    for query in queries:
        start = time.perf_counter()
        scores = baseline.get_scores(tokenize(query))
        top = np.argsort(-scores, kind="stable")[:SEARCH_RETURN_N]
        hits.append([int(i) for i in top if scores[i] > 0])
        times.append(time.perf_counter() - start)
    return build_s, times, hits


_PLAN = ("item", "option", "click[Description]", "click[< Prev]", "click[< Prev]", "click[Next >]", "item")
_NAVIGATION = {f"click[{label}]" for label in (BACK_TO_SEARCH, PREV_PAGE, NEXT_PAGE, BUY_NOW, *SUB_PAGES)} | {
    SEARCH_ACTION
}


def time_steps(env: WebShopEnv, episodes: int, rng: random.Random) -> list[float]:
    """Wall time of env.step for clicks that do not search (the search step is not timed).

    Each episode searches, then opens a product, picks a value, reads the description, goes back
    to the item and to the results, turns the page and opens another product.
    """
    times = []
    for episode in range(episodes):
        _, info = env.reset(seed=episode)
        env.step(f"search[{parse_instruction(info['instruction']).keywords}]")
        for kind in _PLAN:
            actions = env.available_actions()
            if kind in ("item", "option"):
                choices = [a for a in actions if a not in _NAVIGATION]
                action = rng.choice(choices) if choices else None
            else:
                action = kind if kind in actions else None
            if action is None:
                continue
            start = time.perf_counter()
            env.step(action)
            times.append(time.perf_counter() - start)
    return times


def measure(args: argparse.Namespace, cache_dir: str) -> dict:
    """Every timing of one run, as raw lists plus the sizes."""
    start = time.perf_counter()
    env = WebShopEnv(num_products=args.products, cache_dir=cache_dir, title_tagger="heuristic")
    setup_s = time.perf_counter() - start
    shop = env.shop
    rng = random.Random(0)
    goal_ids = rng.sample(range(len(shop.goals.goals)), args.queries)
    queries = [parse_instruction(shop.goals.goals[i]["instruction_text"]).keywords for i in goal_ids]
    start = time.perf_counter()
    documents = [product_document(p) for p in shop.products]
    rebuilt = BM25Index.build(documents)
    build_s = time.perf_counter() - start
    ours_times, ours_hits = time_search(shop.index, queries)
    assert [rebuilt.search(q) for q in queries[:20]] == ours_hits[:20]  # cached index == fresh build
    rank_bm25_build_s, base_times, base_hits = time_rank_bm25(queries[: args.baseline_queries], documents)
    return {
        "products": len(shop.products),
        "goals": len(shop.goals.goals),
        "setup_s": setup_s,
        "build_s": build_s,
        "rank_bm25_build_s": rank_bm25_build_s,
        "ours_times": ours_times,
        "ours_hits": ours_hits,
        "base_times": base_times,
        "base_hits": base_hits,
        "step_times": time_steps(env, args.episodes, rng),
    }


def summarise(raw: dict, baseline_queries: int) -> dict:
    ours = percentiles(raw["ours_times"])
    ours_subset = percentiles(raw["ours_times"][:baseline_queries])
    base = percentiles(raw["base_times"])
    pairs = zip(raw["ours_hits"], raw["base_hits"])
    overlap = float(np.mean([len(set(a[:10]) & set(b[:10])) / 10 for a, b in pairs]))
    speedup = base["p50_ms"] / ours_subset["p50_ms"]
    return {
        "products": raw["products"],
        "goals": raw["goals"],
        "env_setup_s (catalog + goals + index build/cache)": raw["setup_s"],
        "index_build_s (bm25s, tokenising included)": raw["build_s"],
        "rank_bm25_build_s": raw["rank_bm25_build_s"],
        "search_bm25s": ours,
        "search_bm25s_same_queries_as_baseline": ours_subset,
        "search_rank_bm25": base,
        "speedup_p50_vs_rank_bm25": speedup,
        "top10_overlap_with_rank_bm25": overlap,
        "env_step_excluding_search": percentiles(raw["step_times"]),
        "targets": {"search_p50_ms_max": 5.0, "speedup_min": 20.0},
        "targets_met": {"search_p50": ours["p50_ms"] <= 5.0, "speedup": speedup >= 20.0},
        "machine": {
            "python": platform.python_version(),
            "processor": platform.processor() or platform.machine(),
        },
    }


def print_table(result: dict) -> None:
    print(f"WebShop benchmark: {result['products']:,} products, {result['goals']:,} goals")
    print(f"{'measure':<44}{'p50 ms':>10}{'p95 ms':>10}{'n':>7}")
    rows = (
        ("search, bm25s (ours)", "search_bm25s"),
        ("search, bm25s, baseline's queries", "search_bm25s_same_queries_as_baseline"),
        ("search, rank_bm25 (baseline)", "search_rank_bm25"),
        ("env step, excluding search", "env_step_excluding_search"),
    )
    for name, key in rows:
        row = result[key]
        print(f"{name:<44}{row['p50_ms']:>10.3f}{row['p95_ms']:>10.3f}{row['n']:>7}")
    print(
        f"speedup at p50 vs rank_bm25: {result['speedup_p50_vs_rank_bm25']:.0f}x (target >= 20x); "
        f"top-10 overlap {result['top10_overlap_with_rank_bm25']:.2f}"
    )
    print(
        f"index build {result['index_build_s (bm25s, tokenising included)']:.1f} s "
        f"(rank_bm25 {result['rank_bm25_build_s']:.1f} s); "
        f"env setup {result['env_setup_s (catalog + goals + index build/cache)']:.1f} s"
    )


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--products", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=1000, help="queries timed through our search")
    parser.add_argument(
        "--baseline-queries", type=int, default=100, help="how many also go through rank_bm25"
    )
    parser.add_argument("--episodes", type=int, default=200, help="episodes for the step timing")
    parser.add_argument(
        "--cache-dir", default=None, help="reuse an index cache (default: a fresh temporary one)"
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        raw = measure(args, args.cache_dir or scratch)
    result = summarise(raw, args.baseline_queries)
    print_table(result)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2))
    print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()
