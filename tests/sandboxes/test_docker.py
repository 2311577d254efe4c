"""Docker-specific behaviour: limits and labels on the container, the reaper, an unreachable daemon."""

from __future__ import annotations

import os

import pytest

from agentrl.sandboxes import TRUSTED_DIR, DockerSandbox, SandboxUnavailableError
from agentrl.sandboxes import docker as docker_backend
from agentrl.sandboxes.images import HASH_LABEL, base_image_tag
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


def test_least_privilege(client):
    """Read-only root, tmpfs workdir and /tmp of `disk` bytes, every capability dropped but the
    harness's few, and agent commands as an unprivileged uid with none at all."""
    with DockerSandbox(disk="100m", agent_uid=1234) as sandbox:
        host = client.api.inspect_container(sandbox.name)["HostConfig"]
        assert host["ReadonlyRootfs"] is True and host["CapDrop"] == ["ALL"]
        assert set(host["CapAdd"]) == set(docker_backend.HARNESS_CAPABILITIES)
        assert host["SecurityOpt"] == ["no-new-privileges"]
        assert host["Tmpfs"]["/testbed"].startswith(f"size={100 << 20},") and "uid=1234" in host["Tmpfs"]["/testbed"]
        assert set(host["Tmpfs"]) == {"/testbed", "/tmp", TRUSTED_DIR}
        assert sandbox.run("id -u; grep CapEff /proc/self/status").output.split() == ["1234", "CapEff:", "0000000000000000"]
        assert sandbox.run_trusted("id -u").output == "0\n"
        assert sandbox.run(f"ls {sandbox.scratch_dir}").exit_code != 0  # the harness's scratch is root-only


def test_an_image_of_its_own_keeps_its_workdir_and_gets_a_size_limit(client):
    with DockerSandbox(image=base_image_tag(), disk="16m") as sandbox:
        host = client.api.inspect_container(sandbox.name)["HostConfig"]
        assert "/testbed" not in (host["Tmpfs"] or {}) and not host["ReadonlyRootfs"]
        quota = (host.get("StorageOpt") or {}).get("size")
        limit = [u for u in host.get("Ulimits") or [] if u["Name"] == "fsize"]
        assert quota == str(16 << 20) or limit[0]["Hard"] == 16 << 20
        assert sandbox.run("touch /testbed/mine && stat -c %u /testbed").output.strip() == "1000"


def test_a_base_image_without_the_recipes_hash_is_refused(client, monkeypatch):
    container = client.containers.create(base_image_tag(), command=["true"], network_mode="none")
    try:
        container.commit(repository="agentrl/swe-base", tag="stale-test", changes=[f"LABEL {HASH_LABEL}=stale"])
    finally:
        container.remove(force=True)
    try:
        monkeypatch.setattr(docker_backend, "base_image_tag", lambda: "agentrl/swe-base:stale-test")
        with pytest.raises(SandboxUnavailableError, match="agentrl sandbox build --force"):
            DockerSandbox().start()
    finally:
        client.images.remove("agentrl/swe-base:stale-test", force=True)


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
    assert name not in [c.name for c in client.containers.list(all=True, ignore_removed=True)]


def test_owner_ids_name_boot_namespace_pid_and_start():
    host, boot, namespace, pid, started = owner_id().split(":")
    assert int(pid) == os.getpid() and boot and namespace.isdigit() and started.isdigit()
    assert owner_alive(owner_id())
    assert owner_alive(f"{host}:another-boot:{namespace}:{pid}:{started}")  # not ours to judge
    assert owner_alive(f"{host}:{boot}:1:{pid}:{started}") or namespace == "1"  # another pid namespace
    assert not owner_alive(f"{host}:{boot}:{namespace}:{pid}:1")  # same pid, another process (start time)
    assert not owner_alive(f"{host}:{pid}:1")  # labels written before this format are still judged


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
