"""The host half of a persistent shell session.

A backend starts ``python3 -c <dispatcher source>`` inside the sandbox and hands over a
:class:`Channel` to its stdin/stdout. :class:`ShellSession` speaks the dispatcher's line protocol
(one JSON request, one JSON response; see :mod:`agentrl.sandboxes.dispatcher`). One command costs
one round trip over an already open stream: no process is started on the host.

Every reply must carry the session's random token and the request's id; anything else on the
stream (a line an agent command managed to write there, a malformed reply) is a protocol
violation, and the session is then treated as dead (:class:`SessionDiedError`).
"""

from __future__ import annotations

import base64
import json
import os
import secrets
import select
import subprocess
import threading
import time
from functools import lru_cache
from importlib import resources
from typing import Any, Protocol

from agentrl.sandboxes.types import CommandResult, SandboxError, SessionDiedError

#: Extra seconds the host waits beyond a command's own timeout before declaring the session hung.
HOST_GRACE = 15.0


@lru_cache(maxsize=1)
def dispatcher_source() -> str:
    return resources.files("agentrl.sandboxes").joinpath("dispatcher.py").read_text(encoding="utf-8")


def dispatcher_argv(python: str) -> list[str]:
    return [python, "-u", "-c", dispatcher_source()]


class Channel(Protocol):
    """A byte stream to the dispatcher."""

    def send(self, data: bytes) -> None: ...

    def recv(self, timeout: float) -> bytes:
        """Some of the dispatcher's stdout; ``b""`` at end of stream; ``TimeoutError`` when none came."""
        ...

    def diagnostics(self) -> str:
        """What the dispatcher wrote to stderr, for error messages."""
        ...

    def close(self) -> None: ...


class ShellSession:
    """Request/response over a :class:`Channel`; thread-safe, one command at a time."""

    def __init__(self, channel: Channel, *, timeout: float, agent_uid: int | None = None) -> None:
        self.channel = channel
        self._buffer = bytearray()
        self._lock = threading.Lock()
        self._next_id = 0
        self._token = secrets.token_hex(16)
        self.alive = True
        try:
            hello = {"hello": True, "token": self._token, "agent_uid": agent_uid}
            channel.send(json.dumps(hello).encode() + b"\n")
            ready = self._read_message(time.monotonic() + timeout)
        except BaseException:
            channel.close()
            raise
        if not ready.get("ready") or ready.get("token") != self._token:
            channel.close()
            raise SandboxError(f"the sandbox session did not start: {str(ready)[:500]}")

    def run(
        self, command: str, *, timeout: float, limit: int, kill_bytes: int,
        stdin: bytes | None = None, persist: bool = True, cwd: str | None = None,
        user: str = "agent", env: str = "session", reports: bool = False,
    ) -> CommandResult:
        """One command. ``user``: ``agent`` or ``harness``; ``env``: ``session`` (the agent's saved
        state) or ``clean`` (the dispatcher's start-up environment, never persisted)."""
        with self._lock:
            if not self.alive:
                raise SessionDiedError("the shell session has ended; reset the sandbox")
            self._next_id += 1
            request = {
                "id": self._next_id, "cmd": command, "timeout": float(timeout), "limit": int(limit),
                "kill_bytes": int(kill_bytes), "persist": persist, "cwd": cwd, "user": user, "env": env,
                "reports": reports, "stdin": base64.b64encode(stdin).decode("ascii") if stdin is not None else None,
            }
            try:
                self.channel.send(json.dumps(request).encode() + b"\n")
                reply = self._read_message(time.monotonic() + timeout + HOST_GRACE)
            except OSError as exc:
                self.alive = False
                raise SessionDiedError(f"the shell session's stream failed: {exc}") from exc
            except BaseException:
                self.alive = False
                raise
            if reply.get("id") != request["id"] or reply.get("token") != self._token:
                self.alive = False
                raise SessionDiedError(f"protocol violation: the session answered out of turn "
                                       f"({str(reply.get('error') or reply)[:300]}); it is treated as dead")
            try:
                return _result(reply, limit)
            except (KeyError, TypeError, ValueError) as exc:
                self.alive = False
                raise SessionDiedError(f"protocol violation: malformed reply ({exc}); the session is treated as dead") from exc

    def _read_message(self, deadline: float) -> dict:
        scanned = 0  # newlines are searched in new bytes only: replies can be megabytes long
        while (end := self._buffer.find(b"\n", scanned)) < 0:
            scanned = len(self._buffer)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                self.alive = False
                raise SessionDiedError("the sandbox session stopped answering (hung or overloaded); it is treated as dead")
            try:
                chunk = self.channel.recv(remaining)
            except TimeoutError:
                continue
            except OSError as exc:
                self.alive = False
                raise SessionDiedError(f"the shell session's stream failed: {exc}") from exc
            if not chunk:
                self.alive = False
                detail = self.channel.diagnostics().strip()
                raise SessionDiedError(
                    "the shell session ended (a command may have killed it)" + (f": {detail[-2000:]}" if detail else "")
                )
            self._buffer += chunk
        line = bytes(self._buffer[:end])
        del self._buffer[: end + 1]
        try:
            message = json.loads(line)
        except ValueError as exc:
            self.alive = False
            raise SessionDiedError(f"protocol violation: the session sent a line that is not JSON "
                                   f"({line[:120]!r}); it is treated as dead") from exc
        if not isinstance(message, dict):
            self.alive = False
            raise SessionDiedError("protocol violation: the session sent a reply that is not an object")
        return message

    def close(self) -> None:
        self.alive = False
        self.channel.close()


def _result(reply: dict[str, Any], limit: int) -> CommandResult:
    head = base64.b64decode(reply["head"], validate=True)
    tail = base64.b64decode(reply["tail"], validate=True)
    total = int(reply["total"])
    dropped = total - len(head) - len(tail)
    if dropped > 0:
        notice = f"\n[... {dropped} bytes omitted: output over the {limit}-byte limit ...]\n"
        data = head + notice.encode() + tail
    else:
        data = head + tail
    return CommandResult(
        output=data.decode("utf-8", "replace"), exit_code=int(reply["exit_code"]), killed=reply.get("killed"),
        total_bytes=total, truncated=dropped > 0, seconds=float(reply["seconds"]),
        reports=[item for item in reply.get("reports") or [] if isinstance(item, dict)],
    )


class PipeChannel:
    """A :class:`Channel` over a local subprocess's pipes (the bubblewrap backend)."""

    def __init__(self, process) -> None:
        self.process = process
        self._stderr = bytearray()
        self._watch = [process.stdout.fileno(), process.stderr.fileno()]

    def send(self, data: bytes) -> None:
        try:
            self.process.stdin.write(data)
            self.process.stdin.flush()
        except (BrokenPipeError, ValueError) as exc:
            raise SessionDiedError("the shell session has ended") from exc

    def recv(self, timeout: float) -> bytes:
        out, err = self.process.stdout.fileno(), self.process.stderr.fileno()
        deadline = time.monotonic() + timeout
        while True:
            readable, _, _ = select.select(self._watch, [], [], max(deadline - time.monotonic(), 0.0))
            if not readable:
                raise TimeoutError
            if err in readable:
                chunk = os.read(err, 65536)
                if not chunk:
                    self._watch.remove(err)
                self._stderr += chunk
                del self._stderr[:-8192]
            if out in readable:
                return os.read(out, 65536)

    def diagnostics(self) -> str:
        return self._stderr.decode("utf-8", "replace")

    def close(self) -> None:
        process = self.process
        try:
            process.stdin.close()  # end of input: the dispatcher, then the sandbox, exit cleanly
        except OSError:
            pass
        try:
            process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        for stream in (process.stdout, process.stderr):
            stream.close()
