"""A pytest plugin that fails the run if a test leaves a sandbox container behind.

Enable it in the root ``conftest.py``::

    pytest_plugins = ["agentrl.sandboxes.pytest_plugin"]

Importing it gives the run an id (``AGENTRL_SANDBOX_RUN``, inherited by xdist workers) that every
container created during the run carries as a label. At the end of the session:

* each xdist worker notes the containers *it* still owns (before its exit handlers would quietly
  remove them) in a file for the controller;
* the controller (or a plain, single-process run) adds this run's containers that still exist,
  removes them all, and fails the run, naming them.
"""

from __future__ import annotations

import json
import os
import tempfile
import uuid
from pathlib import Path

import pytest

from agentrl.sandboxes.docker import docker_client
from agentrl.sandboxes.pool import wait_discarded
from agentrl.sandboxes.reaper import OWNER_LABEL, RUN_ENV, leaked_containers, list_containers, owner_id, reap
from agentrl.sandboxes.types import SandboxUnavailableError

os.environ.setdefault(RUN_ENV, f"pytest-{uuid.uuid4().hex[:12]}")


def _client():
    try:
        return docker_client()
    except SandboxUnavailableError:
        return None  # no engine: no container can have been made


def _notes_dir() -> Path:
    return Path(tempfile.gettempdir()) / f"agentrl-leaks-{os.environ[RUN_ENV]}"


def leftover_containers(client, *, own_only: bool) -> list[str]:
    """This run's containers that still exist (``own_only``: only this process's)."""
    wait_discarded()  # sandboxes already handed to the background closer are not leaks
    if not own_only:
        return leaked_containers(client, os.environ[RUN_ENV])
    me = owner_id()
    return [c.name for c in list_containers(client, run=os.environ[RUN_ENV]) if c.labels.get(OWNER_LABEL) == me]


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    client = _client()
    worker = getattr(session.config, "workerinput", None)
    if worker is not None:
        leaked = leftover_containers(client, own_only=True) if client is not None else []
        if leaked:
            _notes_dir().mkdir(exist_ok=True)
            (_notes_dir() / f"{worker['workerid']}.json").write_text(json.dumps(leaked))
        return
    leaked = []
    if _notes_dir().is_dir():
        for note in sorted(_notes_dir().glob("*.json")):
            leaked += json.loads(note.read_text())
            note.unlink()
        _notes_dir().rmdir()
    if client is not None:
        leaked += [name for name in leftover_containers(client, own_only=False) if name not in leaked]
    if not leaked:
        return
    if client is not None:
        reap(client, everything=True, run=os.environ[RUN_ENV])
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"sandbox containers left behind by the test suite (now removed): {', '.join(leaked)}"
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
