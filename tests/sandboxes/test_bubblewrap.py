"""Bubblewrap-specific behaviour (LocalSandbox): read-only root, tmpfs writable dirs, no capabilities, scratch cleanup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentrl.sandboxes import TRUSTED_DIR, LocalSandbox, SandboxUnavailableError
from agentrl.sandboxes.local import _scratch_dir


def test_root_is_read_only_and_only_workdir_and_tmp_are_writable(bubblewrap):
    with LocalSandbox(disk="32m") as sandbox:
        for path in ("/usr/evil", "/etc/evil", "/evil", f"{TRUSTED_DIR}/evil"):
            result = sandbox.run(f"touch {path}")
            assert result.exit_code != 0 and "Read-only file system" in result.output, path
        assert sandbox.run("touch /testbed/ok /tmp/ok").ok
        # both are tmpfs mounts of `disk` bytes inside the sandbox: nothing lands on the host's disk
        mounts = sandbox.run("grep -E ' (/testbed|/tmp) ' /proc/mounts").output
        assert mounts.count("tmpfs /") == 2 and mounts.count("size=32768k") == 2
        assert sandbox.host_dir is not None and not list(sandbox.host_dir.rglob("ok"))


def test_no_capabilities_and_the_dispatcher_is_pid_1(bubblewrap):
    with LocalSandbox() as sandbox:
        assert sandbox.run("grep CapEff /proc/self/status").output.split() == ["CapEff:", "0000000000000000"]
        assert "python3" in sandbox.run("cat /proc/1/cmdline | tr '\\0' ' '").output
        assert sandbox.run("kill -9 1; echo $?").output.strip() in ("0", "1")  # a no-op from inside
        assert sandbox.run("echo alive").output == "alive\n"


def test_host_root_exposes_programs_only(bubblewrap):
    with LocalSandbox(rootfs="/") as sandbox:
        listing = sandbox.run("ls /").output.split()
        assert "usr" in listing and "testbed" in listing
        for private in ("home", "root", "work", "opt"):
            assert private not in listing
        assert sandbox.run("ls /etc").output.split() == ["group", "hostname", "hosts", "passwd"]
        assert sandbox.run("cat /etc/hostname").output == "sandbox\n"


def test_scratch_directory_is_removed_on_close(bubblewrap):
    sandbox = LocalSandbox().start()
    host_dir = sandbox.host_dir
    assert host_dir is not None and host_dir.is_dir()
    sandbox.close()
    assert not host_dir.exists()


def test_sandbox_dies_with_its_owner_and_scratch_is_reaped(bubblewrap, processes_of, crashed_child):
    child = crashed_child(
        "from agentrl.sandboxes import LocalSandbox\n"
        "sandbox = LocalSandbox().start()\n"
        "sandbox.run('sleep 300 >/dev/null 2>&1 &')\n"
        "print(sandbox.host_dir, sandbox.uid, flush=True)\n"
    )
    host_dir, uid = child.stdout.split()
    assert Path(host_dir).is_dir()  # the crash left its scratch directory behind
    from agentrl.sandboxes import local

    local._reaped_once = False
    local._reap_once()
    assert not Path(host_dir).exists()
    if os.geteuid() == 0:  # a uid of its own: check that --die-with-parent left no process behind
        assert processes_of(int(uid), wait=5) == []


def test_images_are_rejected_with_advice(bubblewrap):
    with pytest.raises(SandboxUnavailableError, match="backend='docker'"):
        LocalSandbox(image="python:3.11")


def test_scratch_dir_is_private_to_the_host(bubblewrap):
    assert Path(_scratch_dir()).stat().st_mode & 0o777 == 0o711
