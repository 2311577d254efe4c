"""``LocalSandbox``: a bubblewrap sandbox, the fallback when no container engine is available.

* Read-only root: the base image's root filesystem (``agentrl sandbox build`` leaves one in the
  cache), else the host's system directories (``/usr``, ``/etc``, ...; never ``/home`` or ``/root``).
* Writable: only the workdir and ``/tmp``, both host directories that ``close()`` deletes.
* No network (``--unshare-all``: a new network namespace with only loopback), its own pid namespace,
  and ``--die-with-parent``, so the sandbox cannot outlive the process that made it.
* Limits are rlimits: processes (RLIMIT_NPROC; as root the sandbox runs under a fresh unprivileged
  uid so that the limit applies), address space per process, file size; commands run niced.
"""

from __future__ import annotations

import base64
import os
import random
import shlex
import shutil
import stat
import subprocess
import tempfile
from functools import lru_cache
from pathlib import Path
from typing import Any

from agentrl.sandboxes.base import Sandbox, SandboxError, SandboxUnavailableError
from agentrl.sandboxes.reaper import owner_alive, owner_id
from agentrl.sandboxes.session import PipeChannel, dispatcher_argv

#: Host directories exposed (read-only) when the sandbox root is the host itself.
HOST_SYSTEM_DIRS = ("usr", "bin", "sbin", "lib", "lib32", "lib64", "libx32", "etc", "opt")
#: Top-level entries of a root filesystem that bubblewrap provides itself or that stay private.
SKIPPED_ENTRIES = ("proc", "dev", "sys", "tmp", "run")
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
FILE_SIZE_LIMIT = 1 << 30
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
    from agentrl.sandboxes.images import base_rootfs, rootfs_ready

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
        self.host_dir.chmod(0o711)  # the sandbox's uid must reach work/ and tmp/ inside it
        (self.host_dir / OWNER_FILE).write_text(owner_id())
        (self.host_dir / "work").mkdir(mode=0o755)
        (self.host_dir / "tmp").mkdir()
        (self.host_dir / "tmp").chmod(0o1777)  # like any /tmp (mkdir's mode is filtered by the umask)
        if os.geteuid() == 0:
            self.uid = random.randrange(200_000, 260_000)  # a uid of its own: RLIMIT_NPROC counts per uid
            for sub in ("work", "tmp"):
                os.chown(self.host_dir / sub, self.uid, self.uid)

    def _bwrap_argv(self) -> list[str]:
        assert self.host_dir is not None
        argv = [self.bwrap]
        argv += _root_binds(self.rootfs, self.config.workdir)
        argv += ["--dev", "/dev", "--proc", "/proc",
                 "--bind", str(self.host_dir / "work"), self.config.workdir,
                 "--bind", str(self.host_dir / "tmp"), "/tmp",
                 "--remount-ro", "/",
                 "--unshare-all", "--unshare-user", "--uid", "0", "--gid", "0", "--hostname", "sandbox",
                 "--die-with-parent", "--new-session", "--chdir", self.config.workdir, "--clearenv"]
        env = {"PATH": PATH, "HOME": "/tmp", "LANG": "C.UTF-8", "PYTHONDONTWRITEBYTECODE": "1", **self.config.env}
        for key, value in env.items():
            argv += ["--setenv", key, value]
        return argv + ["--"] + dispatcher_argv(self.config.python)

    def _open_channel(self):
        # Limits go through prlimit/nice rather than a preexec_fn, which is unsafe with threads (pools).
        processes = self.config.pids if os.geteuid() == 0 else _processes_of(self.uid) + self.config.pids
        memory = self.config.memory_bytes
        limits = [shutil.which("prlimit") or "prlimit", f"--nproc={processes}", f"--as={memory}",
                  f"--fsize={FILE_SIZE_LIMIT}", "--", "nice", "-n", "5"]
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

    def put_archive(self, dest: str, data: bytes) -> None:
        self._require_started()
        self.extract_archive(data, dest)

    def get_archive(self, path: str) -> bytes:
        self._require_started()
        parent, name = os.path.split(path.rstrip("/") or "/")
        quoted = shlex.quote(path)
        command = (f"test -e {quoted} || test -L {quoted} || exit 44; "
                   f"tar -c -C {shlex.quote(parent or '/')} -f - {shlex.quote(name or '.')} | base64 -w0")
        result = self.run(command, persist=False, cwd="/", output_limit=self.config.kill_output_bytes)
        if result.exit_code == 44:
            raise FileNotFoundError(path)
        if not result.ok:
            raise SandboxError(f"cannot read {path}: {result.output.strip()[:500]}")
        return base64.b64decode(result.output)

    def _require_started(self) -> None:
        if not self.started:
            raise SandboxError(f"{self!r} is not started")


def _root_binds(rootfs: str, workdir: str) -> list[str]:
    """Read-only binds of the root filesystem's top-level entries (symlinks stay symlinks)."""
    root = Path(rootfs)
    host = root.resolve() == Path("/")
    private = {workdir.strip("/").split("/")[0], *SKIPPED_ENTRIES}
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
