"""Choosing a backend: ``docker`` when an engine answers, else ``local`` (bubblewrap)."""

from __future__ import annotations

from typing import Any

from agentrl.sandboxes.base import Sandbox, SandboxUnavailableError
from agentrl.sandboxes.docker import DockerSandbox, docker_client
from agentrl.sandboxes.local import LocalSandbox, local_available

BACKENDS = ("auto", "docker", "local")
_CLASSES: dict[str, type[Sandbox]] = {"docker": DockerSandbox, "local": LocalSandbox}


def backend_class(name: str) -> type[Sandbox]:
    try:
        return _CLASSES[name]
    except KeyError:
        raise ValueError(f"unknown sandbox backend {name!r}; valid backends: {', '.join(BACKENDS)}") from None


def resolve_backend(name: str = "auto") -> str:
    """``docker`` or ``local``; ``auto`` picks docker when reachable, else bubblewrap."""
    if name != "auto":
        backend_class(name)  # validates the name
        return name
    try:
        docker_client()
        return "docker"
    except SandboxUnavailableError as docker_problem:
        if local_available():
            return "local"
        raise SandboxUnavailableError(
            f"no sandbox backend is available. Docker: {docker_problem}. Local: bubblewrap is missing "
            "or cannot create namespaces here (apt-get install bubblewrap)"
        ) from docker_problem


def make_sandbox(backend: str = "auto", config: Any = None, **overrides: Any) -> Sandbox:
    """An unstarted sandbox of the chosen backend."""
    return backend_class(resolve_backend(backend))(config, **overrides)
