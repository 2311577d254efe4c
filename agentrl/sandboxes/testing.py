"""Helpers for test suites that need real sandboxes (agentrl's own, or a user's).

:func:`require_backend` skips a test only when the backend cannot run on this machine, and fails
it, with the command to run, when the backend works but the base image is missing.
"""

from __future__ import annotations

import pytest

from agentrl.sandboxes.base import SandboxUnavailableError
from agentrl.sandboxes.docker import docker_client
from agentrl.sandboxes.images import base_image_ready, base_image_tag, base_rootfs, rootfs_ready
from agentrl.sandboxes.local import local_available

#: ``pytest.mark.parametrize("backend", BACKEND_PARAMS)`` runs a test on both backends.
BACKEND_PARAMS = [pytest.param("docker", marks=pytest.mark.docker), "local"]


def backend_problem(name: str) -> str | None:
    """Why ``name`` cannot run here, or ``None``."""
    if name == "docker":
        try:
            docker_client()
        except SandboxUnavailableError as exc:
            return f"no Docker engine reachable: {exc}"
        return None
    return None if local_available() else "bubblewrap is missing or cannot create namespaces here"


def require_backend(name: str) -> None:
    """Skip when ``name`` cannot run here; fail when it can but the base image is missing."""
    problem = backend_problem(name)
    if problem:
        pytest.skip(problem)
    if name == "docker":
        if not base_image_ready(docker_client()):
            pytest.fail(f"base image {base_image_tag()} is missing (or stale): run `agentrl sandbox build`")
    elif not rootfs_ready(base_rootfs()):
        pytest.fail(f"root filesystem {base_rootfs()} is missing: run `agentrl sandbox build`")
