"""``DockerSandbox``: one container per sandbox, on the Docker SDK.

* Limits: CPU quota, memory without swap, a pid limit; ``network_mode="none"``, always.
* Privileges: every capability dropped except the few the root harness needs (``CHOWN``,
  ``DAC_OVERRIDE``, ``FOWNER``, ``SETUID``, ``SETGID``, ``KILL``); ``no-new-privileges``; agent
  commands run as ``agent_uid`` with no capabilities at all, so they cannot open the session's
  stream, signal the harness or change :data:`~agentrl.sandboxes.base.TRUSTED_DIR`.
* Disk: with the base image the root filesystem is read-only and the workdir and ``/tmp`` are
  tmpfs mounts of ``disk`` bytes each (charged to the container's memory, never to the host's disk).
  An image of its own keeps its writable layer (its repository lives there): the engine's storage
  quota where the storage driver has one, else a per-file size limit.
* The session is one ``docker exec`` whose stdin/stdout stay open (a hijacked API stream), so a
  command costs a round trip on an open socket instead of a new ``docker exec``; files move through
  it too (``tar`` inside the container), which also works on tmpfs mounts.
* ``reset()`` replaces the container with a fresh one from the image.
* Containers carry labels and are reaped when their owner dies (:mod:`agentrl.sandboxes.reaper`).
"""

from __future__ import annotations

import logging
import os
import select
import shlex
import struct
import threading
from collections.abc import Mapping
from typing import Any

from agentrl.sandboxes import reaper
from agentrl.sandboxes.base import TRUSTED_DIR, Sandbox, SandboxError, SandboxUnavailableError, tar_of
from agentrl.sandboxes.images import HASH_LABEL, base_image_tag, content_hash
from agentrl.sandboxes.session import dispatcher_argv

#: PID 1 of every container: sleeps until ``lifetime`` has passed, then the container stops. As the
#: namespace's init it ignores SIGKILL from inside (so ``kill -9 -1`` cannot stop the container)
#: and its ``wait`` reaps the orphans of killed commands.
KEEPER = 'end=$(( $(date +%s) + {lifetime} )); while [ "$(date +%s)" -lt "$end" ]; do sleep 60 & wait $!; done'
#: What the root harness keeps of root's powers; agent commands (another uid) have none.
HARNESS_CAPABILITIES = ("CHOWN", "DAC_OVERRIDE", "FOWNER", "SETUID", "SETGID", "KILL")
TRUSTED_TMPFS = "size=64m,mode=0755,exec"
_NO_STORAGE_QUOTA = "--storage-opt is supported only"

log = logging.getLogger(__name__)
_client = None
_client_lock = threading.Lock()
_storage_quota = True  # until the engine says its storage driver has none
_verified_images: set[str] = set()


def docker_client(timeout: float = 60.0):
    """A shared, verified Docker client; :class:`SandboxUnavailableError` when no engine answers."""
    global _client
    with _client_lock:
        if _client is not None:
            return _client
        try:
            import docker
        except ImportError as exc:
            raise SandboxUnavailableError(
                "the Docker backend needs the docker SDK: pip install 'agentrl[swe]'; "
                "or use the local backend (backend='local', bubblewrap)"
            ) from exc
        host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
        try:
            client = docker.from_env(timeout=int(timeout))
            client.ping()
        except Exception as exc:  # the SDK raises several types for "no daemon here"
            raise SandboxUnavailableError(
                f"cannot reach the Docker daemon at {host} ({type(exc).__name__}: {exc}). Start it "
                "(dockerd --bridge=none --iptables=false --ip-masq=false) or use the local backend: "
                "backend='local' (bubblewrap, no engine needed)"
            ) from exc
        reaper.reap(client)  # containers left behind by crashed processes on this host
        _client = client
        return client


class DockerSandbox(Sandbox):
    """A sandbox in a Docker container (see module docstring)."""

    backend = "docker"

    def __init__(self, config=None, **overrides: Any) -> None:
        super().__init__(config, **overrides)
        self.client = docker_client()
        self.container = None

    @property
    def image(self) -> str:
        return self.config.image or base_image_tag()

    @property
    def own_image(self) -> bool:
        """The config names an image of its own (its workdir content lives in the image)."""
        return bool(self.config.image)

    def _agent_uid(self) -> int | None:
        return self.config.agent_uid or None

    def _create(self) -> None:
        from docker.errors import APIError, ImageNotFound

        self._check_base_image()
        try:
            self.container = self._create_container(quota=_storage_quota)
        except ImageNotFound as exc:
            hint = "build it with: agentrl sandbox build" if not self.own_image else "docker pull or build it first"
            raise SandboxUnavailableError(f"image {self.image!r} is not present; {hint}") from exc
        except APIError as exc:
            if not (self.own_image and _NO_STORAGE_QUOTA in str(exc)):
                raise
            _storage_quota_unsupported(exc)
            self.container = self._create_container(quota=False)
        reaper.track(self)
        self.container.start()

    def _check_base_image(self) -> None:
        """The base image must carry the recipe's content hash (a stale or foreign image with the
        same tag is refused, with the command that rebuilds it)."""
        if self.own_image or self.image in _verified_images:
            return
        from docker.errors import ImageNotFound

        try:
            labels = self.client.images.get(self.image).labels or {}
        except ImageNotFound as exc:
            raise SandboxUnavailableError(f"image {self.image!r} is not present; build it with: agentrl sandbox build") from exc
        if labels.get(HASH_LABEL) != content_hash():
            raise SandboxUnavailableError(
                f"image {self.image!r} does not carry the recipe's content hash (label {HASH_LABEL}="
                f"{labels.get(HASH_LABEL)!r}); rebuild it: agentrl sandbox build --force"
            )
        _verified_images.add(self.image)

    def _create_container(self, *, quota: bool):
        config = self.config
        # Docker's tmpfs defaults to noexec; scripts in the repository and /tmp must run.
        tmpfs = {"/tmp": f"size={config.disk_bytes},mode=1777,exec", TRUSTED_DIR: TRUSTED_TMPFS}
        options: dict[str, Any] = {}
        if self.own_image:
            if quota:
                options["storage_opt"] = {"size": str(config.disk_bytes)}
            else:
                options["ulimits"] = [_file_size_limit(config.disk_bytes)]
        else:
            options["read_only"] = True
            uid = config.agent_uid
            tmpfs[config.workdir] = f"size={config.disk_bytes},mode=0755,uid={uid},gid={uid},exec"
        return self.client.containers.create(
            self.image,
            command=["sh", "-c", KEEPER.format(lifetime=int(config.lifetime))],
            name=self.name,
            hostname="sandbox",
            user="0:0",
            network_mode="none",
            working_dir=config.workdir,
            environment={"HOME": "/tmp", **config.env},
            labels=reaper.container_labels(),
            nano_cpus=int(config.cpus * 1e9),
            mem_limit=config.memory_bytes,
            memswap_limit=config.memory_bytes,
            pids_limit=config.pids,
            cap_drop=["ALL"],
            cap_add=list(HARNESS_CAPABILITIES),
            security_opt=["no-new-privileges"],
            tmpfs=tmpfs,
            **options,
        )

    @property
    def scratch_dir(self) -> str:
        return f"{TRUSTED_DIR}/scratch"  # root-only: the agent's uid cannot enter it

    def _after_start(self) -> None:
        """The harness's scratch directory; an image's workdir belongs to root: hand it to the agent."""
        super()._after_start()
        uid = self.config.agent_uid
        if self.own_image and uid:
            workdir = shlex.quote(self.config.workdir)
            result = self.run_trusted(f"mkdir -p {workdir} && chown -R {uid}:{uid} {workdir}", timeout=600)
            if not result.ok:
                raise SandboxError(f"cannot hand {self.config.workdir} to uid {uid}: {result.output[-500:]}")

    def _open_channel(self):
        return DockerExecChannel(self.client.api, self.container.id, dispatcher_argv(self.config.python),
                                 workdir=self.config.workdir)

    def _destroy(self) -> None:
        from docker.errors import APIError, NotFound

        container, self.container = self.container, None
        reaper.untrack(self)
        if container is None:
            return
        try:
            container.remove(force=True)
        except NotFound:
            pass
        except APIError as exc:
            if exc.status_code != 409:  # 409: already being removed
                raise

    def install_trusted(self, files: Mapping[str, bytes], *, directories: tuple[str, ...] = ()) -> None:
        """One round trip: the directories, then the files (extracted by the root harness)."""
        paths = " ".join(shlex.quote(f"{TRUSTED_DIR}/{name}") for name in directories)
        command = (f"mkdir -p -m 0755 {TRUSTED_DIR} {paths} && "
                   f"tar -x --no-same-owner -C {TRUSTED_DIR} -f -")
        result = self.run_trusted(command, stdin=tar_of(dict(files)), timeout=120)
        if not result.ok:
            raise SandboxError(f"cannot install the harness's files: {result.output[-300:]}")


def _file_size_limit(size: int):
    from docker.types import Ulimit

    return Ulimit(name="fsize", soft=size, hard=size)


def _storage_quota_unsupported(exc: Exception) -> None:
    global _storage_quota
    if _storage_quota:
        log.warning("the Docker storage driver has no per-container quota (%s); sandboxes with an image of "
                    "their own get a per-file size limit instead", str(exc).strip()[:200])
    _storage_quota = False


class DockerExecChannel:
    """The dispatcher's stdin/stdout through one ``docker exec`` stream (multiplexed frames)."""

    def __init__(self, api, container_id: str, argv: list[str], *, workdir: str) -> None:
        exec_id = api.exec_create(container_id, argv, stdin=True, stdout=True, stderr=True, workdir=workdir,
                                  user="0:0")["Id"]
        handle = api.exec_start(exec_id, socket=True)
        self._handle = handle
        self._sock = getattr(handle, "_sock", handle)
        self._frames = bytearray()
        self._stderr = bytearray()

    def send(self, data: bytes) -> None:
        self._sock.sendall(data)

    def recv(self, timeout: float) -> bytes:
        while True:
            payload = self._next_stdout()
            if payload is not None:
                return payload
            readable, _, _ = select.select([self._sock], [], [], timeout)
            if not readable:
                raise TimeoutError
            chunk = self._sock.recv(65536)
            if not chunk:
                return b""
            self._frames += chunk

    def _next_stdout(self) -> bytes | None:
        """Pop whole frames; return the stdout payloads found (``None`` when none yet)."""
        out = bytearray()
        while len(self._frames) >= 8:
            stream, size = struct.unpack(">BxxxL", self._frames[:8])
            if len(self._frames) < 8 + size:
                break
            payload = bytes(self._frames[8 : 8 + size])
            del self._frames[: 8 + size]
            if stream == 2:
                self._stderr += payload
                del self._stderr[:-8192]
            else:
                out += payload
        return bytes(out) if out else None

    def diagnostics(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    def close(self) -> None:
        for closer in (self._sock, self._handle):
            try:
                closer.close()
            except OSError:
                pass
