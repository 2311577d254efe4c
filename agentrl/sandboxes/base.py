"""The interface every sandbox backend implements, and the types it returns.

A :class:`Sandbox` is an isolated machine with one persistent shell session (``cd`` and
``export`` persist across :meth:`Sandbox.run` calls), file transfer through tar archives, a
per-command timeout that kills only the command, and :meth:`Sandbox.reset` back to a clean state.
Backends: :class:`~agentrl.sandboxes.docker.DockerSandbox` (the Docker engine) and
:class:`~agentrl.sandboxes.local.LocalSandbox` (bubblewrap, when no engine is available).
"""

from __future__ import annotations

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

_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?)i?b?\s*$", re.IGNORECASE)


class SandboxError(RuntimeError):
    """A sandbox operation failed for a reason that is not the agent's command."""


class SandboxUnavailableError(SandboxError):
    """The backend cannot run here (no engine, no bubblewrap, missing image); the message says what to do."""


class SessionDiedError(SandboxError):
    """The shell session ended unexpectedly (for example a command killed every process)."""


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
    filesystem when ``agentrl sandbox build`` has produced one, else the host's ``/``."""
    workdir: str = "/testbed"
    """Writable working directory; the session starts there and relative paths resolve against it."""
    cpus: float = 1.0
    """CPU limit in cores (Docker: a hard quota; local: not enforced, the command runs niced)."""
    memory: str = "1g"
    """Memory limit (Docker: the container, no swap; local: address space of each process)."""
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

    def __post_init__(self) -> None:
        if self.timeout <= 0 or self.pids < 8 or self.output_limit < 2:
            raise ValueError("timeout must be > 0, pids >= 8 and output_limit >= 2")
        parse_size(self.memory)
        if not posixpath.isabs(self.workdir):
            raise ValueError(f"workdir must be an absolute path, got {self.workdir!r}")

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory)


@dataclass
class CommandResult:
    """What one command did."""

    output: str
    """Combined stdout and stderr; when ``truncated``, the middle is replaced by a notice."""
    exit_code: int
    killed: str | None = None
    """``"timeout"`` or ``"output"`` when the sandbox killed the command, else ``None``."""
    total_bytes: int = 0
    """Bytes the command printed, including any dropped from ``output``."""
    truncated: bool = False
    """True when the middle of the output was dropped (see ``SandboxConfig.output_limit``)."""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.killed is None

    @property
    def timed_out(self) -> bool:
        return self.killed == "timeout"


class Sandbox(ABC):
    """One isolated machine with a persistent shell session (see module docstring)."""

    backend: ClassVar[str] = ""

    def __init__(self, config: SandboxConfig | Mapping[str, Any] | None = None, **overrides: Any) -> None:
        self.config = build_config(SandboxConfig, config, overrides, where=type(self).__name__)
        self.name = f"agentrl-{uuid.uuid4().hex[:12]}"
        self._session = None

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
    def put_archive(self, dest: str, data: bytes) -> None:
        """Extract a tar archive into directory ``dest`` of the sandbox."""

    @abstractmethod
    def get_archive(self, path: str) -> bytes:
        """A tar archive of ``path`` (file or directory); raises ``FileNotFoundError``."""

    # ------------------------------------------------------------------ lifecycle
    @property
    def started(self) -> bool:
        return self._session is not None

    def start(self) -> Sandbox:
        if self._session is None:
            try:
                self._create()
                self._session = self._new_session()
            except BaseException:
                self._destroy()
                raise
        return self

    def reset(self) -> Sandbox:
        """Back to a clean state: a fresh filesystem from the image and a new session."""
        self.close()
        return self.start()

    def close(self) -> None:
        session, self._session = self._session, None
        if session is not None:
            session.close()
        self._destroy()

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
        """Run ``command`` in the session's shell.

        ``persist=False`` runs it from the session's current state without keeping its ``cd`` or
        ``export`` (for the harness's own commands); ``cwd`` overrides the directory for this call.
        """
        if self._session is None:
            raise SandboxError(f"{self!r} is not started; call start() or use it as a context manager")
        limit = output_limit if output_limit is not None else self.config.output_limit
        return self._session.run(
            command, timeout=timeout or self.config.timeout, limit=limit,
            kill_bytes=max(self.config.kill_output_bytes, limit), stdin=stdin, persist=persist,
            cwd=self.resolve(cwd) if cwd else None,
        )

    def restart_session(self) -> None:
        """Replace a dead session (its ``cd``/``export`` state is lost; files are kept)."""
        if self._session is not None:
            self._session.close()
        self._session = self._new_session()

    def _new_session(self):
        from agentrl.sandboxes.session import ShellSession

        return ShellSession(self._open_channel(), timeout=self.config.start_timeout)

    # ------------------------------------------------------------------ files
    def resolve(self, path: str) -> str:
        """An absolute, normalised path; relative paths are relative to the workdir."""
        return posixpath.normpath(posixpath.join(self.config.workdir, path))

    def read_file(self, path: str) -> bytes:
        """Contents of a regular file (``FileNotFoundError``, ``IsADirectoryError`` otherwise)."""
        return self.read_file_and_mode(path)[0]

    def read_file_and_mode(self, path: str) -> tuple[bytes, int]:
        """Contents and permission bits of a regular file (symlinks are followed)."""
        full = self.resolve(path)
        with tarfile.open(fileobj=io.BytesIO(self.get_archive(full))) as archive:
            member = archive.next()
            if member is None:
                raise FileNotFoundError(full)
            if member.isdir():
                raise IsADirectoryError(full)
            if member.issym():
                return self.read_file_and_mode(posixpath.join(posixpath.dirname(full), member.linkname))
            handle = archive.extractfile(member)
            if handle is None:
                raise SandboxError(f"{full} is not a regular file")
            return handle.read(), member.mode

    def extract_archive(self, data: bytes, dest: str = "/") -> None:
        """Extract a tar archive into ``dest`` with ``tar`` inside the session: one round trip on the
        open stream, much faster than an engine's archive API for a whole repository."""
        quoted = shlex.quote(dest)
        result = self.run(f"mkdir -p {quoted} && tar -x --no-same-owner -C {quoted} -f -", stdin=data,
                          persist=False, cwd="/", timeout=max(self.config.timeout, 120.0))
        if not result.ok:
            raise SandboxError(f"cannot extract into {dest}: {result.output.strip()[-500:]}")

    def write_file(self, path: str, data: bytes | str, mode: int = 0o644) -> None:
        """Create or replace a file; missing parent directories are created."""
        full = self.resolve(path)
        payload = data.encode() if isinstance(data, str) else data
        self.put_archive("/", tar_of({full.lstrip("/"): payload}, mode=mode))


def tar_of(files: Mapping[str, bytes], mode: int = 0o644) -> bytes:
    """An uncompressed tar archive holding ``files`` (relative paths).

    It has no directory entries, so extracting it never changes the mode of an existing directory;
    both backends create missing parents.
    """
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name, payload in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode, info.mtime = len(payload), mode, int(time.time())
            archive.addfile(info, io.BytesIO(payload))
    return buffer.getvalue()
