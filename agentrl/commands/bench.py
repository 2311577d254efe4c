"""``agentrl bench``: run the benchmark scripts under ``benchmarks/``."""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

from agentrl.commands import command_parser


def benchmark_dir() -> Path | None:
    """``benchmarks/`` of a source checkout: under the current directory, else next to the package."""
    for root in (Path.cwd(), Path(__file__).resolve().parents[2]):
        candidate = root / "benchmarks"
        if candidate.is_dir():
            return candidate
    return None


def available() -> list[str]:
    directory = benchmark_dir()
    return sorted(p.stem for p in directory.glob("*.py") if not p.stem.startswith("_")) if directory else []


def add_parser(subparsers) -> None:
    parser = command_parser(
        subparsers, "bench", "Run benchmarks; each prints a table and writes NAME.json into --results "
        "(default benchmarks/results under the current folder; never into an installed package).",
        "  agentrl bench                       # list the benchmarks\n"
        "  agentrl bench sokoban --levels 100  # one benchmark, with its own options\n"
        "  agentrl bench all                   # every benchmark, one after another",
    )
    parser.add_argument("name", nargs="?", help="benchmark name, or 'all'")
    parser.add_argument("args", nargs=argparse.REMAINDER, help="options passed to the benchmark script")
    parser.add_argument("--results", default="benchmarks/results", metavar="DIR",
                        help="folder for the JSON results (relative to the current folder)")
    parser.set_defaults(func=run)


def run(args) -> int:
    names = available()
    if not names:
        print("error: no benchmarks/ directory found; run from a source checkout of agentrl", file=sys.stderr)
        return 2
    if not args.name:
        print("benchmarks:", ", ".join(names))
        return 0
    selected = names if args.name == "all" else [args.name]
    unknown = [n for n in selected if n not in names]
    if unknown:
        print(f"error: unknown benchmark {unknown[0]!r}; choose from: {', '.join(names)}, all", file=sys.stderr)
        return 2
    results = Path(args.results).resolve()
    environment = {**os.environ, "AGENTRL_BENCH_RESULTS": str(results)}
    status = 0
    for name in selected:
        print(f"== {name} (results in {results})", flush=True)
        command = [sys.executable, str(benchmark_dir() / f"{name}.py"), *args.args]
        status = subprocess.call(command, env=environment) or status
    return status
