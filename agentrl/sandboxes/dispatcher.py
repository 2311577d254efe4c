"""The in-sandbox half of a persistent shell session (standard library only, Python >= 3.6).

This file is not imported by the host: its source is sent to ``python3 -c`` inside the sandbox.
It waits for one greeting line (``{"hello": true, "token", "agent_uid"}``), answers
``{"ready": true, "token"}``, then reads one JSON request per line on stdin and writes one JSON
response per line on stdout; every response carries the session's token, so the host can tell its
replies from anything else that reaches the stream.

Two kinds of command share the session:

* agent commands (``user="agent"``, ``env="session"``): started from the session's saved state and,
  when the dispatcher runs as root and ``agent_uid`` is set, as that unprivileged uid (so that they
  cannot open the dispatcher's stream, signal it or write the harness's files). Their processes may
  write JSON lines to ``$AGENTRL_REPORT_FD`` (a private pipe); the lines come back as ``reports``;
* harness commands (``env="clean"``): the dispatcher's own start-up environment, never the agent's
  exported one (an ``export PATH=...`` cannot hijack them), and never persisted; ``user="harness"``
  runs them as the dispatcher's own user.

The dispatcher makes itself non-dumpable, so that processes without CAP_SYS_PTRACE cannot open its
``/proc/<pid>/fd`` entries (its stream) even under the same uid. As pid 1 of its namespace (the
bubblewrap backend) it also reaps the orphans of agent commands.

Each command runs in a fresh ``bash`` in its own process group, started from the session's saved
state (working directory and exported environment). When the command ends normally, bash hands its
final state back on a private pipe and the session adopts it, so ``cd`` and ``export`` persist
across commands exactly as in an interactive shell. A timeout, or an output flood past the hard
limit, kills the command's whole process group with SIGKILL; the session itself, and its state from
before the command, survive. Output keeps the first and last ``limit // 2`` bytes.

Request:  {"id", "cmd", "timeout", "limit", "kill_bytes", "stdin" (base64), "persist", "cwd", "user", "env", "reports"}
Response: {"id", "token", "exit_code", "head", "tail" (base64), "total", "killed" (null, "timeout", "output"),
           "seconds", "reports"}
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
DROPPED_VARS = ("_", "SHLVL", "AGENTRL_REPORT_FD")
CHUNK = 65536
REPORT_LIMIT = 65536
PR_SET_DUMPABLE = 4


class Session:
    def __init__(self, agent_uid=None):
        self.cwd = os.getcwd()
        self.env = dict(os.environ)
        self.clean_env = dict(os.environ)
        self.agent_uid = agent_uid if (agent_uid is not None and os.geteuid() == 0) else None

    def run(self, request):
        started = time.monotonic()
        notes = []
        clean = request.get("env") == "clean"
        cwd = request.get("cwd") or ("/" if clean else self.cwd)
        if not os.path.isdir(cwd):
            notes.append(f"note: working directory {cwd} no longer exists; running in /\n")
            cwd = "/"
        env = dict(self.clean_env if clean else self.env)
        pipes = Pipes(want_reports=bool(request.get("reports")))
        if pipes.report_w is not None:
            env["AGENTRL_REPORT_FD"] = str(pipes.report_w)
        demote = self.agent_uid is not None and request.get("user", "agent") == "agent"
        stdin_data = base64.b64decode(request["stdin"]) if request.get("stdin") else None
        try:
            proc = subprocess.Popen(
                ["bash", "--noprofile", "--norc", "-c", RUNNER, "agentrl", request["cmd"], str(pipes.state_w)],
                cwd=cwd, env=env, stdin=subprocess.PIPE if stdin_data is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, pass_fds=pipes.child_fds(), start_new_session=True,
                preexec_fn=as_user(self.agent_uid) if demote else None,  # noqa: PLW1509 - single-threaded
            )
        except OSError as exc:
            pipes.close()
            return self._response(request, started, 127, Capture(request["limit"], f"{exc}\n".encode()), None, [])
        pipes.close_child_ends()
        capture = Capture(request["limit"], "".join(notes).encode())
        state = bytearray()
        reports = bytearray()
        killed = pump(proc, stdin_data, capture, state, pipes, reports, started + float(request["timeout"]),
                      int(request.get("kill_bytes") or 0))
        pipes.close()
        if not killed and request.get("persist", True) and not clean:
            self._adopt(bytes(state))
        reap_orphans()
        return self._response(request, started, exit_status(proc.returncode), capture, killed, parse_reports(reports))

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
    def _response(request, started, code, capture, killed, reports):
        return {
            "id": request["id"], "exit_code": code, "head": b64(bytes(capture.head)), "tail": b64(bytes(capture.tail)),
            "total": capture.total, "killed": killed, "seconds": time.monotonic() - started, "reports": reports,
        }


class Pipes:
    """The private pipes of one command: the shell's final state, and (optionally) reports."""

    def __init__(self, want_reports):
        self.state_r, self.state_w = os.pipe()
        self.report_r = self.report_w = None
        if want_reports:
            self.report_r, self.report_w = os.pipe()

    def child_fds(self):
        return tuple(fd for fd in (self.state_w, self.report_w) if fd is not None)

    def readers(self):
        return [fd for fd in (self.state_r, self.report_r) if fd is not None]

    def close_child_ends(self):
        for name in ("state_w", "report_w"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)

    def close(self):
        self.close_child_ends()
        for name in ("state_r", "report_r"):
            fd = getattr(self, name)
            if fd is not None:
                os.close(fd)
                setattr(self, name, None)


def as_user(uid):
    """A ``preexec_fn`` that drops to ``uid`` (all capabilities go with root; the dispatcher is
    single-threaded, so a preexec_fn is safe here)."""

    def drop():
        os.setgroups([])
        os.setgid(uid)
        os.setuid(uid)

    return drop


def parse_reports(data):
    reports = []
    for line in bytes(data[:REPORT_LIMIT]).splitlines():
        try:
            item = json.loads(line.decode("utf-8", "replace"))
        except ValueError:
            continue
        if isinstance(item, dict):
            reports.append(item)
    return reports


def reap_orphans():
    """As pid 1 of a namespace, collect the exit status of orphaned agent processes."""
    if os.getpid() != 1:
        return
    while True:
        try:
            pid, _ = os.waitpid(-1, os.WNOHANG)
        except ChildProcessError:
            return
        if pid == 0:
            return


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


def pump(proc, stdin_data, capture, state, pipes, reports, deadline, kill_bytes):
    """Move bytes until the command exits; returns why it was killed, or None."""
    out = proc.stdout.fileno()
    exit_fd = pidfd(proc.pid)
    readers = [out] + pipes.readers() + ([exit_fd] if exit_fd is not None else [])
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
                elif fd == pipes.state_r:
                    state += data
                elif len(reports) < REPORT_LIMIT:
                    reports += data
            if kill_bytes and capture.total > kill_bytes:
                killed = "output"
                break
            if proc.poll() is not None:
                drain(out, capture, pipes, state, reports)
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


def drain(out, capture, pipes, state, reports):
    """After the command exited: read what it wrote (background jobs may keep the pipe open)."""
    sinks = [(out, capture.add), (pipes.state_r, state.extend)]
    if pipes.report_r is not None:
        sinks.append((pipes.report_r, lambda data: reports.extend(data[: max(REPORT_LIMIT - len(reports), 0)])))
    for fd, sink in sinks:
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


def make_undumpable():
    """Only processes with CAP_SYS_PTRACE may now open this process's /proc entries (its stream)."""
    try:
        import ctypes

        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    except (OSError, AttributeError):
        pass


def main():
    make_undumpable()
    write = sys.stdout.buffer
    # Say nothing before the host's first line: bytes sent while the host is still parsing the
    # HTTP headers of a hijacked Docker stream could be swallowed by its header buffer.
    hello = json.loads(sys.stdin.buffer.readline() or b"{}")
    token = hello.get("token")
    session = Session(hello.get("agent_uid"))
    write.write(json.dumps({"ready": True, "pid": os.getpid(), "token": token}).encode() + b"\n")
    write.flush()
    for line in sys.stdin.buffer:
        if not line.strip():
            continue
        try:
            response = session.run(json.loads(line))
        except Exception as exc:  # never let one bad request end the session
            response = {"id": None, "error": f"{type(exc).__name__}: {exc}"}
        response["token"] = token
        write.write(json.dumps(response).encode() + b"\n")
        write.flush()


if __name__ == "__main__":
    main()
