"""The errors and results every sandbox backend shares (no backend code, so every module can use them)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


class SandboxError(RuntimeError):
    """A sandbox operation failed for a reason that is not the agent's command."""


class SandboxUnavailableError(SandboxError):
    """The backend cannot run here (no engine, no bubblewrap, missing image); the message says what to do."""


class SessionDiedError(SandboxError):
    """The shell session ended unexpectedly, or broke its protocol (it is then treated as dead)."""


class FileTooLargeError(SandboxError):
    """A file read was refused before any of it was transferred, because it is over the size cap."""


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
    reports: list[dict[str, Any]] = field(default_factory=list)
    """JSON lines the command's processes wrote to ``$AGENTRL_REPORT_FD`` (e.g. a pytest probe
    saying how many tests ran); agent commands only."""

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and self.killed is None

    @property
    def timed_out(self) -> bool:
        return self.killed == "timeout"
