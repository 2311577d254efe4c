"""A pytest plugin that fails the run if any sandbox container outlives the test suite.

Enable it in the root ``conftest.py``::

    pytest_plugins = ["agentrl.sandboxes.pytest_plugin"]

Importing it gives the run an id (``AGENTRL_SANDBOX_RUN``, inherited by xdist workers) that every
container created during the run carries as a label. When the session ends (in the xdist
controller, after every worker is done) the plugin lists this run's containers; any that exist are
removed and the run fails with their names.
"""

from __future__ import annotations

import os
import uuid

import pytest

from agentrl.sandboxes.reaper import RUN_ENV

os.environ.setdefault(RUN_ENV, f"pytest-{uuid.uuid4().hex[:12]}")


def leftover_containers() -> list[str] | None:
    """This run's containers that still exist; ``None`` when no engine is reachable."""
    from agentrl.sandboxes.base import SandboxUnavailableError
    from agentrl.sandboxes.docker import docker_client
    from agentrl.sandboxes.pool import wait_discarded
    from agentrl.sandboxes.reaper import leaked_containers

    wait_discarded()  # sandboxes already handed to the background closer are not leaks
    try:
        client = docker_client()
    except SandboxUnavailableError:
        return None
    return leaked_containers(client, os.environ[RUN_ENV])


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session, exitstatus) -> None:
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller checks once every worker has finished
    leaked = leftover_containers()
    if not leaked:
        return
    from agentrl.sandboxes.docker import docker_client
    from agentrl.sandboxes.reaper import reap

    reap(docker_client(), everything=True, run=os.environ[RUN_ENV])
    reporter = session.config.pluginmanager.get_plugin("terminalreporter")
    message = f"sandbox containers left behind after the test suite (now removed): {', '.join(leaked)}"
    if reporter is not None:
        reporter.write_line(message, red=True, bold=True)
    session.exitstatus = pytest.ExitCode.TESTS_FAILED
