"""The interface every sandbox backend implements.

A :class:`Sandbox` is an isolated machine with one persistent shell session (``cd`` and
``export`` persist across :meth:`Sandbox.run` calls), file transfer through tar archives, a
per-command timeout that kills only the command, and :meth:`Sandbox.reset` back to a clean state.
Backends: :class:`~agentrl.sandboxes.docker.DockerSandbox` (the Docker engine) and
:class:`~agentrl.sandboxes.local.LocalSandbox` (bubblewrap, when no engine is available).

Two principals share a sandbox. The *agent* runs :meth:`Sandbox.run` commands in the session (as
an unprivileged uid where the backend allows). The *harness* (graders, file transfer) runs
:meth:`Sandbox.run_trusted` commands in the dispatcher's clean start-up environment, so nothing the
agent exported (``PATH``, ``GIT_*``, ``PYTHON*``) reaches them, and owns :data:`TRUSTED_DIR`, a
directory the agent can read but not change (:meth:`Sandbox.install_trusted`).

Every file read checks the file's size inside the sandbox first: a 100 GB sparse file is refused
before a byte of it moves (:class:`FileTooLargeError`).
"""

from __future__ import annotations

import base64
import io
import posixpath
import re
import shlex
import tarfile
import time
import uuid
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar

from agentrl.core.config import build_config
from agentrl.sandboxes.session import ShellSession
from agentrl.sandboxes.types import (
    CommandResult,
    FileTooLargeError,
    SandboxError,
    SandboxUnavailableError,
    SessionDiedError,
)

__all__ = [
    "TRUSTED_DIR", "CommandResult", "FileTooLargeError", "Sandbox", "SandboxConfig", "SandboxError",
    "SandboxUnavailableError", "SessionDiedError", "parse_size", "tar_of",
]

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)

#: Harness-owned directory inside every sandbox: readable by the agent, writable only by the harness.
TRUSTED_DIR = "/run/agentrl"
#: Largest file :meth:`Sandbox.read_file` transfers unless told otherwise.
DEFAULT_READ_CAP = 16 << 20
#: Exit status of the size probe when the path is missing / not a regular file / too large.
_MISSING, _NOT_FILE, _TOO_LARGE, _IS_DIR = 44, 45, 46, 47


def parse_size(value: str | int) -> int:
    """``"512m"`` -> 536870912; integers are bytes."""
    if isinstance(value, int):
        return value
    match = _SIZE.match(str(value))
    if not match:
        raise ValueError(f"cannot read {value!r} as a size; use bytes or a suffix like '512m' or '2g'")
    scale = {"": 1, "k": 1 << 10, "m": 1 << 20, "g": 1 << 30, "t": 1 << 40}[match.group(2).lower()]
    return int(float(match.group(1)) * scale)


@dataclass
class SandboxConfig:
    """Resources and behaviour of one sandbox (both backends read the same config)."""

    image: str = ""
    """Docker image; empty means the built-in SWE base image (``agentrl sandbox build``)."""
    rootfs: str = ""
    """Local backend: directory used as the read-only root; empty means the base image's root
    filesystem when ``agentrl sandbox build`` has produced one, else the host's system directories
    (``/usr`` and the ``/bin``, ``/lib*`` links; never the host's ``/etc``, ``/opt`` or homes)."""
    workdir: str = "/testbed"
    """Writable working directory; the session starts there and relative paths resolve against it."""
    cpus: float = 1.0
    """CPU limit in cores (Docker: a hard quota; local: not enforced, the command runs niced)."""
    memory: str = "1g"
    """Memory limit (Docker: the container, no swap; local: address space of each process)."""
    disk: str = "256m"
    """Space for writing: each of the workdir and ``/tmp`` is a tmpfs of this size (Docker with the
    base image, and bubblewrap); Docker with an image of its own uses the engine's storage quota
    where the storage driver has one, else a per-file size limit of this size. On Docker a tmpfs
    counts as the container's memory: keep ``2 * disk`` well below ``memory``, or an agent that
    fills both leaves its own processes no memory."""
    pids: int = 256
    """Maximum number of processes (stops fork bombs)."""
    timeout: float = 60.0
    """Default per-command timeout in seconds; the command's process group is killed, the session lives on."""
    output_limit: int = 32768
    """Bytes of output kept per command: the first and the last half; the middle is counted and dropped."""
    kill_output_bytes: int = 64 << 20
    """A command that prints more than this many bytes is killed (an output flood)."""
    env: dict[str, str] = field(default_factory=dict)
    """Extra environment variables of the session."""
    python: str = "python3"
    """Interpreter inside the sandbox that runs the session dispatcher."""
    start_timeout: float = 60.0
    """Seconds allowed for the sandbox and its session to come up."""
    lifetime: float = 6 * 3600.0
    """Docker: the container stops itself after this many seconds, a bound on leaks after a crash."""
    agent_uid: int = 1000
    """Docker: the unprivileged uid (and gid) that agent commands run as, with no capabilities; the
    harness stays root. 0 runs agent commands as root (not recommended). Bubblewrap has a single uid."""

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.pids < 8 or self.output_limit < 2:
            raise ValueError("timeout must be > 0, pids >= 8 and output_limit >= 2")
        parse_size(self.memory)
        if parse_size(self.disk) < 1 << 20:
            raise ValueError(f"disk must be at least 1m, got {self.disk!r}")
        if not posixpath.isabs(self.workdir) or posixpath.normpath(self.workdir) in ("/", TRUSTED_DIR):
            raise ValueError(f"workdir must be an absolute path other than / and {TRUSTED_DIR}, got {self.workdir!r}")
        if self.agent_uid < 0:
            raise ValueError(f"agent_uid must be >= 0, got {self.agent_uid}")

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory)

    @property
    def disk_bytes(self) -> int:
        return parse_size(self.disk)


class Sandbox(ABC):
    """One isolated machine with a persistent shell session (see module docstring)."""

    backend: ClassVar[str] = ""

    def __init__(self, config: SandboxConfig | Mapping[str, Any] | None = None, **overrides: Any) -> None:
        self.config = build_config(SandboxConfig, config, overrides, where=type(self).__name__)
        self.name = f"agentrl-{uuid.uuid4().hex[:12]}"
        self._session: ShellSession | None = None

    # ------------------------------------------------------------------ backend hooks
    @abstractmethod
    def _create(self) -> None:
        """Create and start the isolated machine (not the session)."""

    @abstractmethod
    def _destroy(self) -> None:
        """Stop and remove the machine and everything it wrote; must be idempotent."""

    @abstractmethod
    def _open_channel(self):
        """Start the dispatcher inside the machine; return its :class:`~agentrl.sandboxes.session.Channel`."""

    @abstractmethod
    def install_trusted(self, files: Mapping[str, bytes], *, directories: tuple[str, ...] = ()) -> None:
        """Write ``files`` and create ``directories`` (paths relative to :data:`TRUSTED_DIR`) where
        the agent can read but not change them."""

    @property
    def scratch_dir(self) -> str:
        """A directory for the harness's own working files (a git index). Where the backend has a
        second uid the agent cannot touch it; on bubblewrap it is only out of the agent's way."""
        return "/tmp/.agentrl-harness"

    def _agent_uid(self) -> int | None:
        """The uid agent commands run as, when it differs from the harness's (``None``: same uid)."""
        return None

    def _after_start(self) -> None:
        """Set-up that needs the session: the harness's scratch directory."""
        result = self.run_trusted(f"mkdir -p -m 0700 {shlex.quote(self.scratch_dir)}")
        if not result.ok:
            raise SandboxError(f"cannot create {self.scratch_dir}: {result.output[-300:]}")

    # ------------------------------------------------------------------ lifecycle
    @property
    def started(self) -> bool:
        return self._session is not None

    def start(self) -> Sandbox:
        if self._session is None:
            try:
                self._create()
                self._session = self._new_session()
                self._after_start()
            except BaseException:
                self._close_session()
                self._destroy()
                raise
        return self

    def reset(self) -> Sandbox:
        """Back to a clean state: a fresh filesystem from the image and a new session."""
        self.close()
        return self.start()

    def close(self) -> None:
        self._close_session()
        self._destroy()

    def _close_session(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        state = "started" if self.started else "stopped"
        return f"{type(self).__name__}({self.name}, {self.config.image or 'base image'}, {state})"

    # ------------------------------------------------------------------ commands
    def run(
        self,
        command: str,
        *,
        timeout: float | None = None,
        stdin: bytes | None = None,
        persist: bool = True,
        cwd: str | None = None,
        output_limit: int | None = None,
    ) -> CommandResult:
        """Run an agent ``command`` in the session's shell (as the agent's uid).

        ``persist=False`` runs it from the session's current state without keeping its ``cd`` or
        ``export``; ``cwd`` overrides the directory for this call. Lines its processes write to
        ``$AGENTRL_REPORT_FD`` come back in ``CommandResult.reports``.
        """
        return self._run(command, timeout=timeout, stdin=stdin, persist=persist, cwd=cwd,
                         output_limit=output_limit, user="agent", env="session", reports=True)

    def run_trusted(
        self,
        command: str,
        *,
        timeout: float | None = None,
        stdin: bytes | None = None,
        cwd: str | None = None,
        output_limit: int | None = None,
        user: str = "harness",
    ) -> CommandResult:
        """Run a harness ``command`` in the dispatcher's clean start-up environment (never the
        agent's exported one; nothing persists), from ``cwd`` (default ``/``). ``user="agent"``
        runs it with the agent's privileges (files it creates belong to the agent)."""
        if user not in ("agent", "harness"):
            raise ValueError(f"user must be 'agent' or 'harness', got {user!r}")
        return self._run(command, timeout=timeout, stdin=stdin, persist=False, cwd=cwd,
                         output_limit=output_limit, user=user, env="clean", reports=False)

    def _run(self, command: str, *, timeout: float | None, stdin: bytes | None, persist: bool,
             cwd: str | None, output_limit: int | None, user: str, env: str, reports: bool) -> CommandResult:
        if self._session is None:
            raise SandboxError(f"{self!r} is not started; call start() or use it as a context manager")
        limit = output_limit if output_limit is not None else self.config.output_limit
        return self._session.run(
            command, timeout=timeout or self.config.timeout, limit=limit,
            kill_bytes=max(self.config.kill_output_bytes, limit), stdin=stdin, persist=persist,
            cwd=self.resolve(cwd) if cwd else None, user=user, env=env, reports=reports,
        )

    def restart_session(self) -> None:
        """Replace a dead session (its ``cd``/``export`` state is lost; files are kept)."""
        self._close_session()
        self._session = self._new_session()

    def _new_session(self) -> ShellSession:
        return ShellSession(self._open_channel(), timeout=self.config.start_timeout, agent_uid=self._agent_uid())

    # ------------------------------------------------------------------ files
    def resolve(self, path: str) -> str:
        """An absolute, normalised path; relative paths are relative to the workdir."""
        if "\x00" in path:
            raise ValueError("a path cannot contain NUL bytes")
        return posixpath.normpath(posixpath.join(self.config.workdir, path))

    def read_file(self, path: str, *, max_bytes: int = DEFAULT_READ_CAP, user: str = "harness") -> bytes:
        """Contents of a regular file (symlinks followed). ``FileNotFoundError``,
        ``IsADirectoryError``, :class:`FileTooLargeError` (checked before any transfer) otherwise."""
        return self.read_file_and_mode(path, max_bytes=max_bytes, user=user)[0]

    def read_file_and_mode(self, path: str, *, max_bytes: int = DEFAULT_READ_CAP,
                           user: str = "harness") -> tuple[bytes, int]:
        """Contents and permission bits of a regular file (see :meth:`read_file`)."""
        full = self.resolve(path)
        quoted = shlex.quote(full)
        command = (
            f"test -d {quoted} && exit {_IS_DIR}; test -e {quoted} || exit {_MISSING}; "
            f"test -f {quoted} || exit {_NOT_FILE}; "
            f"size=$(stat -L -c %s -- {quoted}) || exit {_MISSING}; "
            f"[ \"$size\" -le {int(max_bytes)} ] || {{ echo \"$size\"; exit {_TOO_LARGE}; }}; "
            f"stat -L -c %a -- {quoted} && head -c {int(max_bytes)} -- {quoted} | base64 -w0"
        )
        limit = 64 + (int(max_bytes) * 4) // 3 + 16
        result = self.run_trusted(command, user=user, output_limit=limit, timeout=max(self.config.timeout, 60.0))
        _raise_for_probe(result, full, max_bytes)
        mode, _, encoded = result.output.partition("\n")
        try:
            return base64.b64decode(encoded.strip(), validate=True), int(mode.strip(), 8)
        except ValueError as exc:
            raise SandboxError(f"cannot read {full}: unexpected reply ({result.output[:200]!r})") from exc

    def extract_archive(self, data: bytes, dest: str = "/", *, user: str = "agent") -> None:
        """Extract a tar archive into ``dest`` with ``tar`` inside the sandbox: one round trip on the
        open stream. ``user="agent"`` (the default) makes the agent own what it creates, and limits it
        to where the agent may write."""
        quoted = shlex.quote(dest)
        result = self.run_trusted(f"mkdir -p {quoted} && tar -x --no-same-owner -C {quoted} -f -", stdin=data,
                                  user=user, timeout=max(self.config.timeout, 120.0))
        if not result.ok:
            raise SandboxError(f"cannot extract into {dest}: {result.output.strip()[-500:]}")

    def put_archive(self, dest: str, data: bytes) -> None:
        """Extract a tar archive into directory ``dest`` of the sandbox (as the agent)."""
        self.extract_archive(data, dest)

    def get_archive(self, path: str, *, max_bytes: int = DEFAULT_READ_CAP) -> bytes:
        """A tar archive of ``path`` (file or directory); ``FileNotFoundError`` when missing,
        :class:`FileTooLargeError` when its contents exceed ``max_bytes`` (checked first)."""
        full = self.resolve(path)
        parent, name = posixpath.split(full.rstrip("/") or "/")
        quoted = shlex.quote(full)
        command = (
            f"test -e {quoted} || test -L {quoted} || exit {_MISSING}; "
            f"size=$(du -s -B1 --apparent-size -- {quoted} | cut -f1); "
            f"[ \"$size\" -le {int(max_bytes)} ] || {{ echo \"$size\"; exit {_TOO_LARGE}; }}; "
            f"tar -c -C {shlex.quote(parent or '/')} -f - {shlex.quote(name or '.')} | base64 -w0"
        )
        limit = 64 + (int(max_bytes) * 4) // 3 + (1 << 20)
        result = self.run_trusted(command, output_limit=limit, timeout=max(self.config.timeout, 60.0))
        _raise_for_probe(result, full, max_bytes)
        return base64.b64decode(result.output.strip())

    def write_file(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        """Create or replace a file as the agent; missing parent directories are created."""
        full = self.resolve(path)
        payload = data.encode() if isinstance(data, str) else data
        self.extract_archive(tar_of({full.lstrip("/"): payload}, mode=mode), "/")


def _raise_for_probe(result: CommandResult, path: str, max_bytes: int) -> None:
    if result.exit_code == _MISSING:
        raise FileNotFoundError(path)
    if result.exit_code == _IS_DIR:
        raise IsADirectoryError(path)
    if result.exit_code == _NOT_FILE:
        raise SandboxError(f"{path} is not a regular file")
    if result.exit_code == _TOO_LARGE:
        size = result.output.strip().splitlines()[0] if result.output.strip() else "?"
        raise FileTooLargeError(f"{path} is {size} bytes, over the {max_bytes}-byte limit; nothing was read")
    if not result.ok:
        raise SandboxError(f"cannot read {path}: {result.output.strip()[:500]}")


def tar_of(files: Mapping[str, bytes], mode: int = 0o644) -> bytes:
    """An uncompressed tar archive holding ``files`` (relative paths).

    It has no directory entries, so extracting it never changes the mode of an existing directory;
    ``tar`` creates missing parents.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(payload), mode, int(time.time())
            archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()
