"""Bubblewrap-specific behaviour: read-only root, private writable dirs, scratch cleanup."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from agentrl.sandboxes import LocalSandbox, SandboxUnavailableError
from agentrl.sandboxes.local import _scratch_dir


def test_root_is_read_only_and_only_workdir_and_tmp_are_writable(bubblewrap):
    with LocalSandbox() as sandbox:
        for path in ("/usr/evil", "/etc/evil", "/evil"):
            result = sandbox.run(f"touch {path}")
            assert result.exit_code != 0 and "Read-only file system" in result.output, path
        assert sandbox.run("touch /testbed/ok /tmp/ok").ok
        assert sandbox.host_dir is not None
        assert (sandbox.host_dir / "work" / "ok").exists() and (sandbox.host_dir / "tmp" / "ok").exists()


def test_host_root_exposes_system_dirs_only(bubblewrap):
    with LocalSandbox(rootfs="/") as sandbox:
        listing = sandbox.run("ls /").output.split()
        assert "usr" in listing and "testbed" in listing
        for private in ("home", "root", "work"):
            assert private not in listing


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
