"""``SandboxPool``: sandboxes started ahead of time, so that a reset costs a hand-over, not a boot.

The pool keeps ``size`` started sandboxes ready. :meth:`SandboxPool.acquire` hands one over and
starts a replacement in the background; :meth:`SandboxPool.release` destroys a used sandbox in the
background (a used sandbox is never handed out again: clean state is guaranteed by construction).

    pool = SandboxPool(lambda: DockerSandbox(cpus=1), size=4)
    sandbox = pool.acquire()          # ready at once when the pool is warm
    ...
    pool.release(sandbox)
    pool.close()
"""

from __future__ import annotations

import atexit
import queue
import threading
import time
import weakref
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, wait

from agentrl.sandboxes.base import Sandbox, SandboxError

_pools: weakref.WeakSet[SandboxPool] = weakref.WeakSet()


class SandboxPool:
    """A warm pool of sandboxes made by ``factory`` (see module docstring)."""

    def __init__(self, factory: Callable[[], Sandbox], size: int = 4, *, threads: int = 2) -> None:
        if size < 1 or threads < 1:
            raise ValueError("a pool needs size >= 1 and threads >= 1")
        self.factory = factory
        self.size = size
        self.hits = 0
        """Acquisitions served by a sandbox that was already warm."""
        self.misses = 0
        """Acquisitions that had to wait for, or start, a sandbox."""
        self._ready: deque[Sandbox] = deque()
        self._pending = 0
        self._error: BaseException | None = None
        self._closed = False
        self._cond = threading.Condition()
        self._jobs: queue.SimpleQueue = queue.SimpleQueue()
        self._threads = [threading.Thread(target=self._work, daemon=True, name=f"sandbox-pool-{i}") for i in range(threads)]
        for thread in self._threads:
            thread.start()
        for _ in range(size):
            self._schedule_warm()
        _pools.add(self)

    # ------------------------------------------------------------------ public API
    def acquire(self, timeout: float = 300.0) -> Sandbox:
        """A started, never-used sandbox."""
        deadline = time.monotonic() + timeout
        with self._cond:
            if self._closed:
                raise SandboxError("the sandbox pool is closed")
            waited = False
            while not self._ready:
                if self._error is not None:
                    error, self._error = self._error, None
                    self._schedule_warm_locked()
                    raise SandboxError(f"the pool could not start a sandbox: {error}") from error
                if self._pending == 0:
                    self._schedule_warm_locked()
                waited = True
                if not self._cond.wait(max(deadline - time.monotonic(), 0.0)) and time.monotonic() >= deadline:
                    raise SandboxError(f"no sandbox became ready within {timeout:.0f}s")
            sandbox = self._ready.popleft()
            self.misses += waited
            self.hits += not waited
            self._schedule_warm_locked()  # keep `size` sandboxes ready or on their way
        return sandbox

    def release(self, sandbox: Sandbox) -> None:
        """Give a used sandbox back; it is destroyed in the background."""
        self._jobs.put(sandbox)

    @property
    def ready(self) -> int:
        with self._cond:
            return len(self._ready)

    def wait_ready(self, timeout: float = 300.0) -> bool:
        """Block until ``size`` sandboxes are warm (benchmarks, tests)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while len(self._ready) < self.size:
                if self._error is not None or not self._cond.wait(max(deadline - time.monotonic(), 0.0)):
                    return len(self._ready) >= self.size
        return True

    def close(self) -> None:
        with self._cond:
            if self._closed:
                return
            self._closed = True
            ready, self._ready = list(self._ready), deque()
            self._cond.notify_all()
        for sandbox in ready:
            sandbox.close()
        for _ in self._threads:
            self._jobs.put(None)
        for thread in self._threads:
            thread.join(timeout=120)

    def __enter__(self) -> SandboxPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------------ workers
    def _schedule_warm(self) -> None:
        with self._cond:
            self._schedule_warm_locked()

    def _schedule_warm_locked(self) -> None:
        if not self._closed and len(self._ready) + self._pending < self.size:
            self._pending += 1
            self._jobs.put("warm")

    def _work(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            if job == "warm":
                self._warm_one()
            else:
                job.close()

    def _warm_one(self) -> None:
        try:
            sandbox = self.factory().start()
        except BaseException as exc:  # surfaced by the next acquire()
            with self._cond:
                self._pending -= 1
                self._error = exc
                self._cond.notify_all()
            return
        with self._cond:
            self._pending -= 1
            keep = not self._closed
            if keep:
                self._ready.append(sandbox)
                self._cond.notify_all()
        if not keep:
            sandbox.close()


_discards: set = set()
_discard_lock = threading.Lock()
_discarder = None


def discard(sandbox: Sandbox) -> None:
    """Close ``sandbox`` in the background (removing a container takes 0.1-0.3 s).

    Pending closes finish before the interpreter exits; :func:`wait_discarded` waits for them.
    """
    global _discarder
    with _discard_lock:
        if _discarder is None:
            _discarder = ThreadPoolExecutor(max_workers=2, thread_name_prefix="sandbox-discard")
        future = _discarder.submit(sandbox.close)
        _discards.add(future)
    future.add_done_callback(_forget)


def _forget(future) -> None:
    with _discard_lock:
        _discards.discard(future)


def wait_discarded(timeout: float = 120.0) -> None:
    """Block until every :func:`discard` has finished."""
    with _discard_lock:
        pending = list(_discards)
    wait(pending, timeout=timeout)


_shared: dict[object, SandboxPool] = {}
_shared_lock = threading.Lock()


def shared_pool(key: object, factory: Callable[[], Sandbox], size: int) -> SandboxPool:
    """The process-wide pool for ``key`` (e.g. backend and sandbox config), created on first use.

    Environments in one process that want the same kind of sandbox share one pool.
    """
    with _shared_lock:
        pool = _shared.get(key)
        if pool is None or pool._closed:
            pool = _shared[key] = SandboxPool(factory, size)
        return pool


def close_shared_pools() -> None:
    """Close every pool made by :func:`shared_pool` (their sandboxes are removed)."""
    with _shared_lock:
        pools = list(_shared.values())
        _shared.clear()
    for pool in pools:
        pool.close()


@atexit.register
def _close_pools() -> None:
    for pool in list(_pools):
        pool.close()
