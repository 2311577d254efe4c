"""The in-sandbox half of a persistent shell session (standard library only, Python >= 3.6).

This file is not imported by the host: its source is sent to ``python3 -c`` inside the sandbox.
It waits for one greeting line, answers ``{"ready": true}``, then reads one JSON request per line
on stdin and writes one JSON response per line on stdout.

Each command runs in a fresh ``bash`` in its own process group, started from the session's saved
state (working directory and exported environment). When the command ends normally, bash hands its
final state back on a private pipe and the session adopts it, so ``cd`` and ``export`` persist
across commands exactly as in an interactive shell. A timeout, or an output flood past the hard
limit, kills the command's whole process group with SIGKILL; the session itself, and its state from
before the command, survive. Output keeps the first and last ``limit // 2`` bytes.

Request:  {"id", "cmd", "timeout", "limit", "kill_bytes", "stdin" (base64), "persist", "cwd"}
Response: {"id", "exit_code", "head", "tail" (base64), "total", "killed" (null, "timeout", "output"), "seconds"}
"""

import base64
import json
import os
import select
import signal
import subprocess
import sys
import time

# Runs the command in the current bash (so cd/export take effect), then writes the final working
# directory and environment, NUL-separated, to the state pipe whose number is $2. The pipe is
# closed for the command itself so that background jobs cannot hold it open.
RUNNER = r"""
__agentrl_fd=$2
trap '{ printf "%s\0" "$PWD"; env -0; } >&"$__agentrl_fd" 2>/dev/null' EXIT
eval "$1" {__agentrl_fd}>&-
"""
DROPPED_VARS = ("_", "SHLVL")
CHUNK = 65536


class Session:
    def __init__(self):
        self.cwd = os.getcwd()
        self.env = dict(os.environ)

    def run(self, request):
        started = time.monotonic()
        notes = []
        cwd = request.get("cwd") or self.cwd
        if not os.path.isdir(cwd):
            notes.append(f"note: working directory {cwd} no longer exists; running in /\n")
            cwd = "/"
        state_r, state_w = os.pipe()
        stdin_data = base64.b64decode(request["stdin"]) if request.get("stdin") else None
        try:
            proc = subprocess.Popen(
                ["bash", "--noprofile", "--norc", "-c", RUNNER, "agentrl", request["cmd"], str(state_w)],
                cwd=cwd, env=self.env, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=(state_w,), start_new_session=True,
            )
        except OSError as exc:
            os.close(state_r)
            os.close(state_w)
            return self._response(request, started, 127, Capture(request["limit"], f"{exc}\n".encode()), None)
        os.close(state_w)
        capture = Capture(request["limit"], "".join(notes).encode())
        state = bytearray()
        killed = pump(proc, stdin_data, capture, state, state_r, started + float(request["timeout"]),
                      int(request.get("kill_bytes") or 0))
        os.close(state_r)
        if not killed and request.get("persist", True):
            self._adopt(bytes(state))
        return self._response(request, started, exit_status(proc.returncode), capture, killed)

    def _adopt(self, state):
        parts = state.split(b"\0")
        if len(parts) < 2 or not parts[0]:
            return  # the command replaced bash (exec) or closed the pipe: keep the old state
        env = {}
        for item in parts[1:]:
            key, sep, value = item.partition(b"=")
            if sep and key.decode(errors="replace") not in DROPPED_VARS:
                env[os.fsdecode(key)] = os.fsdecode(value)
        self.cwd, self.env = os.fsdecode(parts[0]), env

    @staticmethod
    def _response(request, started, code, capture, killed):
        return {
            "id": request["id"], "exit_code": code, "head": b64(bytes(capture.head)), "tail": b64(bytes(capture.tail)),
            "total": capture.total, "killed": killed,
            "seconds": time.monotonic() - started,
        }


class Capture:
    """Keeps the first and the last ``limit // 2`` bytes of a stream and counts the rest."""

    def __init__(self, limit, prefix=b""):
        self.half = max(int(limit) // 2, 1)
        self.head = bytearray()
        self.tail = bytearray()
        self.total = 0
        if prefix:
            self.add(prefix)

    def add(self, data):
        self.total += len(data)
        room = self.half - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > self.half:
                del self.tail[: len(self.tail) - self.half]


def pump(proc, stdin_data, capture, state, state_r, deadline, kill_bytes):
    """Move bytes until the command exits; returns why it was killed, or None."""
    out = proc.stdout.fileno()
    exit_fd = pidfd(proc.pid)
    readers = [out, state_r] + ([exit_fd] if exit_fd is not None else [])
    writer = proc.stdin.fileno() if proc.stdin else None
    pending = memoryview(stdin_data or b"")
    killed = None
    try:
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                killed = "timeout"
                break
            wait = remaining if exit_fd is not None else min(remaining, 0.01)
            readable, writable, _ = select.select(readers, [writer] if writer is not None else [], [], wait)
            if writer is not None and writable:
                pending, writer = feed(proc, writer, pending)
            for fd in readable:
                if fd == exit_fd:
                    continue
                data = os.read(fd, CHUNK)
                if not data:
                    readers.remove(fd)
                elif fd == out:
                    capture.add(data)
                else:
                    state += data
            if kill_bytes and capture.total > kill_bytes:
                killed = "output"
                break
            if proc.poll() is not None:
                drain(out, capture, state_r, state)
                break
    finally:
        if exit_fd is not None:
            os.close(exit_fd)
    if killed:
        kill_group(proc)
    proc.stdout.close()
    if proc.stdin and not proc.stdin.closed:
        proc.stdin.close()
    return killed


def feed(proc, writer, pending):
    try:
        written = os.write(writer, pending[:CHUNK])
    except (BrokenPipeError, OSError):
        written = len(pending)
    pending = pending[written:]
    if not pending:
        proc.stdin.close()
        return pending, None
    return pending, writer


def drain(out, capture, state_r, state):
    """After the command exited: read what it wrote (background jobs may keep the pipe open)."""
    for fd, sink in ((out, capture.add), (state_r, state.extend)):
        os.set_blocking(fd, False)
        while True:
            try:
                data = os.read(fd, CHUNK)
            except BlockingIOError:
                break
            if not data:
                break
            sink(data)


def pidfd(pid):
    try:
        return os.pidfd_open(pid)
    except (AttributeError, OSError):
        return None


def kill_group(proc):
    signal_group(proc.pid)
    proc.wait()
    for _ in range(20):  # a fork bomb may still be adding members: repeat until the group is empty
        time.sleep(0.002)
        if not signal_group(proc.pid):
            break


def signal_group(pgid):
    try:
        os.killpg(pgid, signal.SIGKILL)
        return True
    except (ProcessLookupError, PermissionError):
        return False


def exit_status(returncode):
    return 128 - returncode if returncode < 0 else returncode


def b64(data):
    return base64.b64encode(data).decode("ascii")


def main():
    session = Session()
    write = sys.stdout.buffer
    # Say nothing before the host's first line: bytes sent while the host is still parsing the
    # HTTP headers of a hijacked Docker stream could be swallowed by its header buffer.
    sys.stdin.buffer.readline()
    write.write(json.dumps({"ready": True, "pid": os.getpid()}).encode() + b"\n")
    write.flush()
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            response = session.run(json.loads(line))
        except Exception as exc:  # never let one bad request end the session
            response = {"id": None, "error": f"{type(exc).__name__}: {exc}"}
        write.write(json.dumps(response).encode() + b"\n")
        write.flush()


if __name__ == "__main__":
    main()
