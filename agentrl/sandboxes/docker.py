"""``DockerSandbox``: one container per sandbox, on the Docker SDK.

* Limits: CPU quota, memory without swap, a pid limit; ``network_mode="none"``, always.
* The session is one ``docker exec`` whose stdin/stdout stay open (a hijacked API stream), so a
  command costs a round trip on an open socket instead of a new ``docker exec``.
* Files move as tar archives (``put_archive``/``get_archive``).
* ``reset()`` replaces the container with a fresh one from the image.
* Containers carry labels and are reaped when their owner dies (:mod:`agentrl.sandboxes.reaper`).
"""

from __future__ import annotations

import os
import select
import struct
import threading
from typing import Any

from agentrl.sandboxes import reaper
from agentrl.sandboxes.base import Sandbox, SandboxError, SandboxUnavailableError
from agentrl.sandboxes.session import dispatcher_argv

#: PID 1 of every container: sleeps until ``lifetime`` has passed, then the container stops. As the
#: namespace's init it ignores SIGKILL from inside (so ``kill -9 -1`` cannot stop the container)
#: and its ``wait`` reaps the orphans of killed commands.
KEEPER = 'end=$(( $(date +%s) + {lifetime} )); while [ "$(date +%s)" -lt "$end" ]; do sleep 60 & wait $!; done'

_client = None
_client_lock = threading.Lock()


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
        if self.config.image:
            return self.config.image
        from agentrl.sandboxes.images import base_image_tag

        return base_image_tag()

    def _create(self) -> None:
        from docker.errors import ImageNotFound

        config = self.config
        try:
            self.container = self.client.containers.create(
                self.image,
                command=["sh", "-c", KEEPER.format(lifetime=int(config.lifetime))],
                name=self.name,
                hostname="sandbox",
                network_mode="none",
                working_dir=config.workdir,
                environment=dict(config.env),
                labels=reaper.container_labels(),
                nano_cpus=int(config.cpus * 1e9),
                mem_limit=config.memory_bytes,
                memswap_limit=config.memory_bytes,
                pids_limit=config.pids,
                security_opt=["no-new-privileges"],
            )
        except ImageNotFound as exc:
            hint = "build it with: agentrl sandbox build" if not config.image else "docker pull or build it first"
            raise SandboxUnavailableError(f"image {self.image!r} is not present; {hint}") from exc
        reaper.track(self)
        self.container.start()

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

    def put_archive(self, dest: str, data: bytes) -> None:
        from docker.errors import APIError

        self._require_container()
        try:
            ok = self.container.put_archive(dest, data)
        except APIError as exc:
            raise SandboxError(f"cannot write into {dest}: {exc.explanation or exc}") from exc
        if not ok:
            raise SandboxError(f"cannot write into {dest}")

    def get_archive(self, path: str) -> bytes:
        from docker.errors import NotFound

        self._require_container()
        try:
            stream, _ = self.container.get_archive(path)
        except NotFound as exc:
            raise FileNotFoundError(path) from exc
        return b"".join(stream)

    def _require_container(self) -> None:
        if self.container is None:
            raise SandboxError(f"{self!r} is not started")


class DockerExecChannel:
    """The dispatcher's stdin/stdout through one ``docker exec`` stream (multiplexed frames)."""

    def __init__(self, api, container_id: str, argv: list[str], *, workdir: str) -> None:
        exec_id = api.exec_create(container_id, argv, stdin=True, stdout=True, stderr=True, workdir=workdir)["Id"]
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
