"""Docker-specific behaviour: limits and labels on the container, the reaper, an unreachable daemon."""

from __future__ import annotations

import os

import pytest

from agentrl.sandboxes import DockerSandbox, SandboxUnavailableError
from agentrl.sandboxes import docker as docker_backend
from agentrl.sandboxes.reaper import LABEL, OWNER_LABEL, RUN_ENV, RUN_LABEL, owner_alive, owner_id, reap

pytestmark = pytest.mark.docker


@pytest.fixture
def client(docker_engine):
    return docker_engine


def test_container_has_limits_labels_and_no_network(client):
    with DockerSandbox(cpus=0.5, memory="300m", pids=99) as sandbox:
        attrs = client.api.inspect_container(sandbox.name)
        host = attrs["HostConfig"]
        assert host["NetworkMode"] == "none"
        assert host["NanoCpus"] == 500_000_000
        assert host["Memory"] == host["MemorySwap"] == 300 << 20
        assert host["PidsLimit"] == 99
        labels = attrs["Config"]["Labels"]
        assert labels[LABEL] == "1" and labels[OWNER_LABEL] == owner_id()
        assert labels[RUN_LABEL] == os.environ.get(RUN_ENV, "")
        assert attrs["NetworkSettings"]["Networks"].keys() == {"none"}


def test_a_crashed_owners_containers_are_reaped(client, crashed_child):
    # A child process creates a sandbox and dies without cleaning up (SIGKILL: no atexit).
    child = crashed_child(
        "from agentrl.sandboxes import DockerSandbox\n"
        "sandbox = DockerSandbox().start()\n"
        "print(sandbox.name, flush=True)\n"
    )
    name = child.stdout.strip()
    assert child.returncode == -9 and name.startswith("agentrl-"), child.stderr
    container = client.containers.get(name)
    assert not owner_alive(container.labels[OWNER_LABEL])
    assert name in reap(client)
    assert name not in [c.name for c in client.containers.list(all=True)]


def test_reaper_spares_live_owners(client):
    with DockerSandbox() as sandbox:
        assert sandbox.name not in reap(client)
        assert client.containers.get(sandbox.name).status == "running"


def test_unreachable_daemon_suggests_the_local_backend(monkeypatch, tmp_path):
    monkeypatch.setattr(docker_backend, "_client", None)
    monkeypatch.setenv("DOCKER_HOST", f"unix://{tmp_path}/no-such-docker.sock")
    with pytest.raises(SandboxUnavailableError) as excinfo:
        DockerSandbox()
    message = str(excinfo.value)
    assert "cannot reach the Docker daemon" in message and "no-such-docker.sock" in message
    assert "backend='local'" in message


def test_missing_image_names_the_fix(client):
    sandbox = DockerSandbox(image="agentrl/no-such-image:never")
    with pytest.raises(SandboxUnavailableError, match="not present"):
        sandbox.start()
    assert sandbox.container is None


def test_session_commands_are_a_round_trip_not_a_docker_exec(client):
    """Ten commands through the session cost less than one `docker exec` (one API round trip each)."""
    import time

    with DockerSandbox() as sandbox:
        sandbox.run("true")
        started = time.perf_counter()
        for _ in range(10):
            assert sandbox.run("true").ok
        session = (time.perf_counter() - started) / 10
        container = sandbox.container
        started = time.perf_counter()
        for _ in range(3):
            exec_id = client.api.exec_create(container.id, ["true"])["Id"]
            client.api.exec_start(exec_id)
        fresh_exec = (time.perf_counter() - started) / 3
    assert session < fresh_exec, (session, fresh_exec)
