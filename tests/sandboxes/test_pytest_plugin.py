"""The leak check that the root conftest enables: a test suite that leaves a container fails."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from agentrl.sandboxes.reaper import RUN_ENV

pytestmark = pytest.mark.docker

LEAKY = "from agentrl.sandboxes import DockerSandbox\n\ndef test_leak():\n    DockerSandbox().start()\n"
TIDY = "from agentrl.sandboxes import DockerSandbox\n\ndef test_tidy():\n    DockerSandbox().start().close()\n"


def run_suite(tmp_path, source: str, *extra: str) -> subprocess.CompletedProcess:
    (tmp_path / "test_suite.py").write_text(source)
    env = {k: v for k, v in os.environ.items() if k != RUN_ENV}  # the inner run gets its own id
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "agentrl.sandboxes.pytest_plugin", "-p", "no:cacheprovider",
         "-q", "--rootdir", str(tmp_path), str(tmp_path / "test_suite.py"), *extra],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=300, check=False,
    )


@pytest.mark.parametrize("workers", [
    pytest.param([], id="single-process"),
    pytest.param(["-n", "2"], id="xdist", marks=pytest.mark.slow),  # three pytest start-ups: ~20 s
])
def test_a_leaked_container_fails_the_run_and_is_removed(docker_engine, tmp_path, workers):
    result = run_suite(tmp_path, LEAKY, *workers)
    output = result.stdout + result.stderr
    assert result.returncode == 1, output
    assert "1 passed" in result.stdout, output  # the inner test itself passed: the failure is the leak
    assert "sandbox containers left behind by the test suite (now removed): agentrl-" in result.stdout, output
    name = result.stdout.split("(now removed): ")[1].split()[0]
    assert name not in [c.name for c in docker_engine.containers.list(all=True, ignore_removed=True)]


def test_a_tidy_suite_passes(docker_engine, tmp_path):
    result = run_suite(tmp_path, TIDY)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "left behind" not in result.stdout
