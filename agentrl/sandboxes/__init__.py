"""Sandboxes for agents that run code: Docker containers, or bubblewrap when no engine is available.

    from agentrl.sandboxes import make_sandbox

    with make_sandbox("auto", cpus=1, memory="1g") as sandbox:
        sandbox.run("cd /tmp && export GREETING=hi")
        print(sandbox.run("pwd; echo $GREETING").output)     # /tmp, hi
        sandbox.write_file("notes.txt", "hello")               # relative to the workdir, /testbed
"""

from agentrl.sandboxes.backends import BACKENDS, make_sandbox, resolve_backend
from agentrl.sandboxes.base import (
    TRUSTED_DIR,
    CommandResult,
    FileTooLargeError,
    Sandbox,
    SandboxConfig,
    SandboxError,
    SandboxUnavailableError,
    SessionDiedError,
)
from agentrl.sandboxes.docker import DockerSandbox, docker_client
from agentrl.sandboxes.local import LocalSandbox, local_available
from agentrl.sandboxes.pool import SandboxPool

__all__ = [
    "BACKENDS",
    "TRUSTED_DIR",
    "CommandResult",
    "DockerSandbox",
    "FileTooLargeError",
    "LocalSandbox",
    "Sandbox",
    "SandboxConfig",
    "SandboxError",
    "SandboxPool",
    "SandboxUnavailableError",
    "SessionDiedError",
    "docker_client",
    "local_available",
    "make_sandbox",
    "resolve_backend",
]
