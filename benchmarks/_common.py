"""Shared helpers for benchmark scripts: tables and JSON results."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

#: Where results go: ``benchmarks/results`` of this checkout, or ``AGENTRL_BENCH_RESULTS`` (set by
#: ``agentrl bench`` to a folder under the current directory, so an installed copy is never written to).
RESULTS = Path(os.environ.get("AGENTRL_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")


def command_line(script: str, argv: Sequence[str]) -> str:
    """The command that reproduces a run, for its results file: ``--keep DIR`` (where the runs were
    kept on this machine) is left out."""
    given = list(argv)
    if "--keep" in given:
        del given[given.index("--keep"):given.index("--keep") + 2]
    return " ".join([f"python benchmarks/{script}", *given])


def max_rss_bytes() -> int:
    """Peak resident memory of this process."""
    import resource
    import sys

    scale = 1 if sys.platform == "darwin" else 1024  # Linux reports kilobytes, macOS bytes
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * scale


def machine() -> dict[str, Any]:
    import os

    return {"python": platform.python_version(), "cpus": os.cpu_count(), "machine": platform.machine(),
            "date": time.strftime("%Y-%m-%d")}


def print_table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
                fmt: Callable[[Any], str] | None = None) -> None:
    fmt = fmt or _fmt
    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(str(h)), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    print("  ".join(str(h).ljust(w) for h, w in zip(headers, widths)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(v.ljust(w) for v, w in zip(row, widths)))


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:,.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    return str(value)


def write_results(name: str, payload: dict[str, Any]) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    path.write_text(json.dumps({"benchmark": name, "machine": machine(), **payload}, indent=2))
    print(f"\nwrote {path}")
    return path
