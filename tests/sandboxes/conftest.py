"""Fixtures for the sandbox tests: one shared suite, run against each backend.

Docker tests skip only when no engine is reachable; bubblewrap tests skip only when bubblewrap
cannot run here. A missing base image is a failure with the command that builds it, not a skip.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from agentrl.sandboxes import LocalSandbox
from agentrl.sandboxes.backends import backend_class
from agentrl.sandboxes.testing import BACKEND_PARAMS, require_backend


@pytest.fixture
def processes_of():
    """``processes_of(uid, wait=0)`` -> pids of the live (non-zombie) processes of ``uid``."""
    return _processes_of


@pytest.fixture
def crashed_child():
    """``crashed_child(code)`` -> the finished child Python that ran ``code`` (with ``os`` imported)
    and then died without cleaning up (SIGKILL: no atexit)."""

    def run(code: str) -> subprocess.CompletedProcess:
        script = f"import os, signal\n{code}os.kill(os.getpid(), signal.SIGKILL)\n"
        return subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120,
                              check=False)

    return run


@pytest.fixture
def docker_engine():
    """The Docker client (skips when no engine is reachable)."""
    require_backend("docker")
    from agentrl.sandboxes.docker import docker_client

    return docker_client()


@pytest.fixture
def bubblewrap():
    """Skips unless bubblewrap sandboxes can run here (with the base root filesystem)."""
    require_backend("local")


@pytest.fixture(params=BACKEND_PARAMS)
def backend(request) -> str:
    require_backend(request.param)
    return request.param


def assert_gone(sandbox) -> None:
    """Nothing of a closed sandbox remains: no container, no scratch directory, no process."""
    if isinstance(sandbox, LocalSandbox):
        assert sandbox.host_dir is None
        if sandbox.uid != os.getuid():  # as root each sandbox has a uid of its own
            survivors = _processes_of(sandbox.uid, wait=5)
            assert survivors == [], f"processes of sandbox uid {sandbox.uid} survived close()"
        return
    from docker.errors import NotFound

    from agentrl.sandboxes.docker import docker_client

    with pytest.raises(NotFound):
        docker_client().containers.get(sandbox.name)


def _processes_of(uid: int, wait: float = 0) -> list[str]:
    """With ``wait``, poll up to that many seconds for none to be left (the kernel tears a pid
    namespace down asynchronously)."""
    deadline = time.monotonic() + wait
    while (found := _live_processes(uid)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return found


def _live_processes(uid: int) -> list[str]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and proc.stat().st_uid == uid:
                state = (proc / "stat").read_bytes().rsplit(b")", 1)[1].split()[0]
                if state != b"Z":  # a zombie is dead; reaping it is its new parent's business
                    found.append(proc.name)
        except OSError:
            continue
    return found


@pytest.fixture
def make_sandbox(backend):
    """``make_sandbox(**overrides)`` -> a started sandbox; all are closed and checked at teardown."""
    made = []

    def make(**overrides):
        sandbox = backend_class(backend)(**overrides).start()
        made.append(sandbox)
        return sandbox

    yield make
    for sandbox in made:
        sandbox.close()
        assert_gone(sandbox)


@pytest.fixture
def sandbox(make_sandbox):
    return make_sandbox(timeout=20)
