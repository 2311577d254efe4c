"""Labels on every sandbox container, and the reaper that removes leaked ones.

Each container carries ``agentrl.sandbox=1``, its owner and, when ``AGENTRL_SANDBOX_RUN`` is set
(the test suite sets it), a run id. The owner is ``host:boot-id:pid-namespace:pid:start-time`` of
the creating process: a process counts as the owner only when all five match, so neither a reused
pid, nor a process of another boot, nor one in another pid namespace (another container with the
same hostname) is mistaken for it, and the reaper never judges an owner it cannot see. Containers
never outlive their owner for long:

* the owning process closes its sandboxes on exit (``atexit``);
* if it crashed instead, the next sandbox created on this host, or ``agentrl sandbox reap``,
  removes every container whose owner process is gone;
* and each container stops itself after ``SandboxConfig.lifetime`` seconds regardless.
"""

from __future__ import annotations

import atexit
import os
import socket
import threading
import time
import weakref
from typing import Any

LABEL = "agentrl.sandbox"
OWNER_LABEL = "agentrl.owner"
RUN_LABEL = "agentrl.run"
RUN_ENV = "AGENTRL_SANDBOX_RUN"

_live: weakref.WeakSet[Any] = weakref.WeakSet()
_lock = threading.Lock()


def _start_time(pid: int) -> str:
    """The kernel's start time of ``pid`` (guards against pid reuse); empty if unknown."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[19].decode()
    except (OSError, IndexError):
        return ""


def _boot_id() -> str:
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def _pid_namespace(pid: int | str = "self") -> str:
    try:
        return str(os.stat(f"/proc/{pid}/ns/pid").st_ino)
    except OSError:
        return ""


def owner_id(pid: int | None = None) -> str:
    """``host:boot-id:pid-namespace:pid:start-time`` of ``pid`` (default: this process)."""
    pid = os.getpid() if pid is None else pid
    return f"{socket.gethostname()}:{_boot_id()}:{_pid_namespace(pid)}:{pid}:{_start_time(pid)}"


def container_labels() -> dict[str, str]:
    return {
        LABEL: "1",
        OWNER_LABEL: owner_id(),
        RUN_LABEL: os.environ.get(RUN_ENV, ""),
        "agentrl.created": str(int(time.time())),
    }


def owner_alive(owner: str) -> bool:
    """False only when the owner ran in this boot of this host, in our pid namespace, and that
    process (same pid and start time) is gone."""
    parts = owner.split(":")
    if len(parts) == 5:
        host, boot, namespace, pid_text, started = parts
        if boot != _boot_id() or namespace != _pid_namespace():
            return True  # another boot or another pid namespace: not ours to judge
    elif len(parts) == 3:  # labels written before boot id and namespace were recorded
        host, pid_text, started = parts
    else:
        return True
    if host != socket.gethostname() or not pid_text.isdigit():
        return True  # another machine's container: not ours to judge
    pid = int(pid_text)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return not started or _start_time(pid) == started


def list_containers(client, *, run: str | None = None) -> list:
    filters = {"label": [f"{LABEL}=1"] + ([f"{RUN_LABEL}={run}"] if run else [])}
    # Another process may remove a container between listing and inspection: skip it.
    return client.containers.list(all=True, filters=filters, ignore_removed=True)


def reap(client, *, everything: bool = False, run: str | None = None) -> list[str]:
    """Remove sandbox containers whose owner is dead (``everything=True``: all of them)."""
    from docker.errors import APIError, NotFound

    removed = []
    for container in list_containers(client, run=run):
        if not everything and owner_alive(container.labels.get(OWNER_LABEL, "")):
            continue
        try:
            container.remove(force=True)
            removed.append(container.name)
        except NotFound:
            continue
        except APIError as exc:
            if exc.status_code != 409:  # 409: removal already in progress
                raise
    return removed


def leaked_containers(client, run: str) -> list[str]:
    """Names of this run's containers that still exist (the test suite asserts none)."""
    return [container.name for container in list_containers(client, run=run)]


def track(sandbox: Any) -> None:
    """Close ``sandbox`` at interpreter exit if its owner forgot to."""
    with _lock:
        _live.add(sandbox)


def untrack(sandbox: Any) -> None:
    with _lock:
        _live.discard(sandbox)


@atexit.register
def _close_live_sandboxes() -> None:
    with _lock:
        pending = list(_live)
    for sandbox in pending:
        try:
            sandbox.close()
        except Exception as exc:  # at exit: report, and keep closing the others
            print(f"agentrl: could not remove sandbox {getattr(sandbox, 'name', sandbox)}: {exc}")
