"""Every script under examples/ runs (with a smoke-sized budget)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
SMOKE_ARGS = {"train_sokoban.py": ["--iterations", "2", "--sft-episodes", "40", "--sft-steps", "5",
                                   "--eval-episodes", "8", "--tasks", "4", "--group-size", "2"]}


def test_every_example_has_smoke_arguments():
    assert sorted(p.name for p in EXAMPLES.glob("*.py")) == sorted(SMOKE_ARGS)


@pytest.mark.parametrize("name", sorted(SMOKE_ARGS))
def test_example_runs(name):
    done = subprocess.run([sys.executable, str(EXAMPLES / name), *SMOKE_ARGS[name]], capture_output=True,
                          text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert re.match(r"after SFT: held-out success \d+\.\d%", lines[0])
    assert sum(line.startswith("iteration ") for line in lines) == 2
    assert re.match(r"after RL: held-out success \d+\.\d%", lines[-1])
