"""Every benchmark script starts from any folder: its imports resolve and ``--help`` explains it.

The benchmarks themselves take minutes to hours (their figures are in the README); this checks
what a fresh clone needs before running one: no absolute path, no module missing, no stale API.
"""

import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"
SCRIPTS = sorted(p for p in BENCHMARKS.glob("*.py") if not p.name.startswith("_"))


def test_every_benchmark_is_listed():
    assert {p.stem for p in SCRIPTS} >= {"ablations", "async", "quickstart", "calm_judges", "learner", "minihack",
                                         "sandbox", "webshop", "router", "sokoban"}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.stem)
def test_benchmark_help_runs_from_another_folder(script, tmp_path):
    done = subprocess.run([sys.executable, str(script), "--help"], cwd=tmp_path, capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert "usage" in done.stdout.lower()
    assert not list(tmp_path.iterdir()), "--help wrote files"
