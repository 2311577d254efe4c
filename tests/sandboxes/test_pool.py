"""SandboxPool: warm hand-over, replacement, destruction of used sandboxes, errors surfaced."""

from __future__ import annotations

import threading
import time

import pytest

from agentrl.sandboxes import SandboxError, SandboxPool
from agentrl.sandboxes.backends import backend_class
from agentrl.sandboxes.base import Sandbox
from agentrl.sandboxes.pool import close_shared_pools, discard, shared_pool, wait_discarded


class SlowFake(Sandbox):
    """A sandbox whose start takes ``boot`` seconds; records what happened to it."""

    backend = "fake"
    boot = 0.2
    log: list[str] = []
    lock = threading.Lock()

    def _create(self) -> None:
        time.sleep(self.boot)
        with self.lock:
            self.log.append(f"start {self.name}")

    def _open_channel(self):
        return None

    def start(self):
        self._create()
        self._session = object()
        return self

    def close(self) -> None:
        self._session = None
        with self.lock:
            self.log.append(f"close {self.name}")

    def _destroy(self) -> None: ...

    def install_trusted(self, files, *, directories=()) -> None: ...


@pytest.fixture(autouse=True)
def fresh_log():
    SlowFake.log = []


def test_warm_acquire_is_immediate_and_keeps_the_pool_full():
    with SandboxPool(SlowFake, size=2) as pool:
        assert pool.wait_ready(timeout=10)
        started = time.perf_counter()
        first = pool.acquire()
        assert time.perf_counter() - started < SlowFake.boot / 4
        assert first.started and pool.hits == 1 and pool.misses == 0
        second = pool.acquire()
        assert second is not first
        assert pool.wait_ready(timeout=10)  # both were replaced in the background
        assert len([line for line in SlowFake.log if line.startswith("start")]) == 4


def test_released_sandboxes_are_destroyed_not_reused():
    with SandboxPool(SlowFake, size=1) as pool:
        used = pool.acquire()
        pool.release(used)
        deadline = time.monotonic() + 10
        while f"close {used.name}" not in SlowFake.log and time.monotonic() < deadline:
            time.sleep(0.01)
        assert f"close {used.name}" in SlowFake.log
        assert pool.acquire() is not used


def test_cold_pool_waits_for_a_sandbox_and_counts_a_miss():
    with SandboxPool(SlowFake, size=1) as pool:
        sandbox = pool.acquire()
        assert sandbox.started and pool.misses == 1


def test_close_destroys_ready_sandboxes():
    pool = SandboxPool(SlowFake, size=3)
    assert pool.wait_ready(timeout=10)
    pool.close()
    starts = {line.split()[1] for line in SlowFake.log if line.startswith("start")}
    closes = {line.split()[1] for line in SlowFake.log if line.startswith("close")}
    assert starts == closes and len(starts) == 3
    with pytest.raises(SandboxError, match="closed"):
        pool.acquire()


def test_start_failures_reach_the_caller():
    def broken():
        raise RuntimeError("image missing")

    with SandboxPool(broken, size=1) as pool, pytest.raises(SandboxError, match="image missing"):
        pool.acquire(timeout=10)


def test_shared_pool_is_one_per_key_and_discard_closes_in_background():
    try:
        a = shared_pool(("fake", 1), SlowFake, 1)
        assert shared_pool(("fake", 1), SlowFake, 1) is a
        assert shared_pool(("fake", 2), SlowFake, 1) is not a
        sandbox = a.acquire()
    finally:
        close_shared_pools()
    discard(sandbox)
    wait_discarded()
    assert f"close {sandbox.name}" in SlowFake.log


def test_real_pool_hands_over_started_sandboxes_much_faster_than_a_cold_start(backend):
    cls = backend_class(backend)
    started = time.perf_counter()
    cls().start().close()
    cold = time.perf_counter() - started
    with SandboxPool(cls, size=1) as pool:
        assert pool.wait_ready(timeout=120)
        started = time.perf_counter()
        sandbox = pool.acquire()
        warm = time.perf_counter() - started
        assert sandbox.run("echo warm").output == "warm\n"
        pool.release(sandbox)
    assert warm < cold / 5, (warm, cold)
