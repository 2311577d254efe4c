"""``LocalSandbox``: a bubblewrap sandbox, the fallback when no container engine is available.

* Read-only root: the base image's root filesystem (``agentrl sandbox build`` leaves one in the
  cache), else the host's program directories only (``/usr`` and its ``/bin``, ``/lib*`` links) with
  a minimal ``/etc`` of its own: the host's ``/etc``, ``/opt`` and homes are never visible.
* Writable: only the workdir and ``/tmp``, each a tmpfs of ``disk`` bytes inside the sandbox (a
  quota that never touches the host's disk; both vanish with the sandbox).
* :data:`~agentrl.sandboxes.base.TRUSTED_DIR` is a read-only bind of a host directory that only the
  host writes (:meth:`LocalSandbox.install_trusted`).
* No network (``--unshare-all``: a new network namespace with only loopback), its own pid namespace
  whose pid 1 is the session's dispatcher (``kill -9 -1`` from inside cannot end it), no
  capabilities, and ``--die-with-parent``, so the sandbox cannot outlive the process that made it.
  Agent commands share the dispatcher's uid, but the dispatcher is non-dumpable, so without
  capabilities they cannot open its stream.
* Limits are rlimits: processes (RLIMIT_NPROC; as root the sandbox runs under a fresh unprivileged
  uid so that the limit applies), address space per process, file size; commands run niced.
"""

from __future__ import annotations

import os
import posixpath
import random
import shutil
import stat
import subprocess
import tempfile
from collections.abc import Mapping
from functools import lru_cache
from pathlib import Path
from typing import Any

from agentrl.sandboxes.base import TRUSTED_DIR, Sandbox, SandboxUnavailableError
from agentrl.sandboxes.images import base_rootfs, rootfs_ready
from agentrl.sandboxes.reaper import owner_alive, owner_id
from agentrl.sandboxes.session import PipeChannel, dispatcher_argv

#: Host directories exposed (read-only) when the sandbox root is the host itself: programs and
#: libraries only (never /etc, /opt, /home, /root, /var).
HOST_SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32")
#: Top-level entries of a root filesystem that bubblewrap provides itself or that stay private.
SKIPPED_ENTRIES = ("proc", "dev", "sys", "tmp", "run")
#: The ``/etc`` a sandbox on the host's root gets instead of the host's.
MINIMAL_ETC = {
    "passwd": "root:x:0:0:root:/tmp:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
    "group": "root:x:0:\nnogroup:x:65534:\n",
    "hosts": "127.0.0.1 localhost sandbox\n",
    "hostname": "sandbox\n",
}
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
OWNER_FILE = "owner"
_reaped_once = False


def bwrap_path() -> str:
    found = shutil.which("bwrap")
    if not found:
        raise SandboxUnavailableError(
            "the local backend needs bubblewrap: apt-get install bubblewrap (or use backend='docker')"
        )
    return found


@lru_cache(maxsize=1)
def local_available() -> bool:
    """Whether bubblewrap can make a sandbox here, the way :class:`LocalSandbox` does (unprivileged)."""
    if not shutil.which("bwrap"):
        return False
    drop = {"user": 65534, "group": 65534, "extra_groups": []} if os.geteuid() == 0 else {}
    probe = subprocess.run(
        [bwrap_path(), "--ro-bind", "/", "/", "--unshare-all", "--unshare-user", "--die-with-parent", "true"],
        capture_output=True, timeout=30, check=False, **drop,
    )
    return probe.returncode == 0


def default_rootfs() -> str:
    try:
        root = base_rootfs()
    except SandboxUnavailableError:
        return "/"
    return str(root) if rootfs_ready(root) else "/"


class LocalSandbox(Sandbox):
    """A sandbox made with bubblewrap (see module docstring)."""

    backend = "local"

    def __init__(self, config=None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        if self.config.image:
            raise SandboxUnavailableError(
                f"the local backend cannot run image {self.config.image!r}: it runs a root filesystem "
                "directory (rootfs=...); use backend='docker' for images"
            )
        self.bwrap = bwrap_path()
        self.rootfs = self.config.rootfs or default_rootfs()
        if not Path(self.rootfs, "usr").is_dir():
            raise SandboxUnavailableError(f"{self.rootfs} does not look like a root filesystem (no usr/)")
        if os.geteuid() == 0:
            _require_traversable(Path(self.rootfs))
        self.host_dir: Path | None = None
        self.uid = os.getuid()
        _reap_once()

    def _create(self) -> None:
        self.host_dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=_scratch_dir()))
        self.host_dir.chmod(0o711)  # the sandbox's uid must reach trusted/ and etc/ inside it
        (self.host_dir / OWNER_FILE).write_text(owner_id())
        (self.host_dir / "trusted").mkdir(mode=0o755)
        if _on_host_root(self.rootfs):
            etc = self.host_dir / "etc"
            etc.mkdir(mode=0o755)
            for name, text in MINIMAL_ETC.items():
                (etc / name).write_text(text)
        if os.geteuid() == 0:
            self.uid = random.randrange(200_000, 260_000)  # a uid of its own: RLIMIT_NPROC counts per uid

    def _bwrap_argv(self) -> list[str]:
        assert self.host_dir is not None
        disk = str(self.config.disk_bytes)
        argv = [self.bwrap]
        argv += _root_binds(self.rootfs, self.config.workdir)
        if (self.host_dir / "etc").is_dir():
            argv += ["--ro-bind", str(self.host_dir / "etc"), "/etc"]
        argv += ["--dev", "/dev", "--proc", "/proc",
                 "--perms", "0755", "--size", disk, "--tmpfs", self.config.workdir,
                 "--perms", "1777", "--size", disk, "--tmpfs", "/tmp",
                 "--ro-bind", str(self.host_dir / "trusted"), TRUSTED_DIR,
                 "--remount-ro", "/",
                 "--unshare-all", "--unshare-user", "--uid", "0", "--gid", "0", "--hostname", "sandbox",
                 "--die-with-parent", "--new-session", "--as-pid-1", "--chdir", self.config.workdir, "--clearenv"]
        env = {"PATH": PATH, "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", **self.config.env}
        for key, value in env.items():
            argv += ["--setenv", key, value]
        return argv + ["--"] + dispatcher_argv(self.config.python)

    def _open_channel(self):
        # Limits go through prlimit/nice rather than a preexec_fn, which is unsafe with threads (pools).
        processes = self.config.pids if os.geteuid() == 0 else _processes_of(self.uid) + self.config.pids
        memory = self.config.memory_bytes
        limits = [shutil.which("prlimit") or "prlimit", f"--nproc={processes}", f"--as={memory}",
                  f"--fsize={self.config.disk_bytes}", "--", "nice", "-n", "5"]
        drop = {"user": self.uid, "group": self.uid, "extra_groups": []} if os.geteuid() == 0 else {}
        process = subprocess.Popen(
            limits + self._bwrap_argv(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            bufsize=0, start_new_session=True, **drop,
        )
        return PipeChannel(process)

    def _destroy(self) -> None:
        host_dir, self.host_dir = self.host_dir, None
        if host_dir is not None:
            shutil.rmtree(host_dir, ignore_errors=True)

    def install_trusted(self, files: Mapping[str, bytes], *, directories: tuple[str, ...] = ()) -> None:
        """Written by the host into the directory the sandbox sees read-only at TRUSTED_DIR."""
        if self.host_dir is None:
            raise SandboxUnavailableError(f"{self!r} is not started")
        root = self.host_dir / "trusted"
        for name in (*directories, *files):
            relative = posixpath.normpath(name)
            if relative.startswith(("/", "..")):
                raise ValueError(f"trusted path {name!r} must stay inside {TRUSTED_DIR}")
        for name in directories:
            (root / name).mkdir(mode=0o755, parents=True, exist_ok=True)
        for name, payload in files.items():
            target = root / posixpath.normpath(name)
            target.parent.mkdir(mode=0o755, parents=True, exist_ok=True)
            target.write_bytes(payload)
            target.chmod(0o644)


def _on_host_root(rootfs: str) -> bool:
    return Path(rootfs).resolve() == Path("/")


def _root_binds(rootfs: str, workdir: str) -> list[str]:
    """Read-only binds of the root filesystem's top-level entries (symlinks stay symlinks)."""
    root = Path(rootfs)
    host = _on_host_root(rootfs)
    private = {workdir.strip("/").split("/")[0], *SKIPPED_ENTRIES, *(("etc",) if host else ())}
    argv: list[str] = []
    for entry in sorted(root.iterdir()):
        if entry.name in private or (host and entry.name not in HOST_SYSTEM_DIRS):
            continue
        if entry.is_symlink():
            argv += ["--symlink", os.readlink(entry), f"/{entry.name}"]
        elif entry.is_dir():
            argv += ["--ro-bind", str(entry), f"/{entry.name}"]
    return argv


def _require_traversable(path: Path) -> None:
    """As root, sandboxes run under an unprivileged uid, which must be able to reach ``path``."""
    for directory in [path.resolve(), *path.resolve().parents]:
        if not directory.stat().st_mode & stat.S_IXOTH:
            raise SandboxUnavailableError(
                f"the root filesystem {path} is inside {directory}, which other users cannot enter; the "
                "sandbox runs under an unprivileged uid. Keep it under a world-readable directory "
                "(the default is /var/cache/agentrl; set AGENTRL_CACHE)"
            )


def _processes_of(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if os.stat(f"/proc/{entry}").st_uid == uid:
                    count += 1
            except OSError:
                continue
    return count


def _scratch_dir() -> str:
    path = Path(tempfile.gettempdir()) / "agentrl-sandboxes"
    path.mkdir(mode=0o711, exist_ok=True)
    return str(path)


def _reap_once() -> None:
    """Delete the scratch directories of local sandboxes whose owner process is gone."""
    global _reaped_once
    if _reaped_once:
        return
    _reaped_once = True
    for entry in Path(_scratch_dir()).iterdir():
        owner = entry / OWNER_FILE
        try:
            alive = owner_alive(owner.read_text())
        except OSError:
            continue
        if not alive:
            shutil.rmtree(entry, ignore_errors=True)
