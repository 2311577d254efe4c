"""Asynchronous rollouts: the actors keep playing with the latest weights while the learner trains.

:class:`AsyncRollouts` runs the rollout engine (:meth:`RolloutEngine.play`, the same slot loop as
every synchronous backend) in a background thread on an endless stream of specs -- the same tasks,
in the same order, as the synchronous trainer's iterations -- and hands the learner a batch of
complete groups whenever it asks (:meth:`AsyncRollouts.next_batch`), the first groups to complete
first. A slot whose episode ends starts the stream's next episode in the same command; with the
engine's waves (``rollout.waves``) the actors take whichever wave's steps finished first, so a
straggling step holds up only its own wave. The learner publishes new
weights through :class:`~agentrl.rollout.versions.VersionedPolicy`; they take effect at the next
policy call, so an episode's turns may come from consecutive versions (each turn records its own).

Staleness is bounded twice:

* **admission** (AReaL's ``StalenessManager.get_capacity`` in ``areal/core/staleness_manager.py``):
  a new episode may start only while ``accepted + running < (max_staleness + updates + 1) * N``,
  where ``N`` is the episodes of one batch and ``updates`` the versions published since the start,
  so production runs at most ``max_staleness`` batches ahead of the learner;
* **freshness**: a group is dropped (and counted) when any turn of any of its trajectories is more
  than ``max_staleness`` versions older than the learner -- checked when the group completes and
  again when a batch is assembled. The whole group goes, because group baselines compare its members
  (dropping only the slow, stale members would bias the baseline towards short episodes).
  ``max_staleness=0`` is a synchronous schedule played through the stream.

Dropped episodes free their admission budget (AReaL's ``on_rollout_rejected``), so the stream never
stalls on them.
"""

from __future__ import annotations

import heapq
import threading
import time
from collections import Counter, deque
from typing import Callable

from agentrl.core.trajectory import Trajectory, TrajectoryBatch
from agentrl.rollout.engine import RolloutEngine
from agentrl.rollout.spec import EpisodeSpec
from agentrl.rollout.versions import VersionedPolicy, is_fresh

SpecsFor = Callable[[int], list[EpisodeSpec]]
"""The specs of one iteration (the tasks a synchronous run would play in it)."""


class RolloutThreadError(RuntimeError):
    """The background rollout thread failed; the original exception is the cause."""


class StreamSource:
    """An endless :class:`~agentrl.rollout.engine.SpecSource`: iterations' specs one after another,
    admitted under the staleness budget (see module docstring)."""

    def __init__(self, specs_for: SpecsFor, first_iteration: int, max_staleness: int, policy: VersionedPolicy):
        self.specs_for = specs_for
        self.iteration = first_iteration - 1  # the iteration whose specs were drawn last
        self.max_staleness = max_staleness
        self.policy = policy
        self.base_version = policy.version
        self.batch_episodes = len(specs_for(first_iteration))
        self.condition = threading.Condition()
        self.running = 0
        self.accepted = 0
        self.group_sizes: Counter[tuple[int, str]] = Counter()
        """Episodes of each group, keyed by (iteration, group id): ids may repeat across iterations."""
        self.group_of: dict[int, tuple[int, str]] = {}
        """The group of each drawn spec, by key."""
        self._returned: list[tuple[int, EpisodeSpec]] = []
        self._upcoming: deque[EpisodeSpec] = deque()
        self._next_key = 0

    def capacity(self) -> int:
        """Episodes that may start now under the staleness budget."""
        updates = self.policy.version - self.base_version
        return (self.max_staleness + updates + 1) * self.batch_episodes - (self.accepted + self.running)

    def pop(self) -> tuple[int, EpisodeSpec] | None:
        with self.condition:
            if self.capacity() <= 0:
                return None
            item = heapq.heappop(self._returned) if self._returned else self._draw()
            self.running += 1
            return item

    def _draw(self) -> tuple[int, EpisodeSpec]:
        if not self._upcoming:
            self.iteration += 1
            specs = self.specs_for(self.iteration)
            self._upcoming.extend(specs)
            self.group_sizes.update((self.iteration, spec.group_id) for spec in specs)
        spec = self._upcoming.popleft()
        key = self._next_key
        self._next_key += 1
        self.group_of[key] = (self.iteration, spec.group_id)
        return key, spec

    def push(self, item: tuple[int, EpisodeSpec]) -> None:
        with self.condition:
            self.running -= 1
            heapq.heappush(self._returned, item)

    def exhausted(self) -> bool:
        return False

    def wait(self) -> None:
        with self.condition:
            self.condition.wait(timeout=0.05)

    def finished(self) -> None:
        """An episode ended: it counts as accepted until it is dropped or trained on."""
        with self.condition:
            self.running -= 1
            self.accepted += 1
            self.condition.notify_all()

    def rejected(self, count: int) -> None:
        """Accepted episodes were dropped before training: their budget is free again."""
        with self.condition:
            self.accepted -= count
            self.condition.notify_all()


class AsyncRollouts:
    """Plays episodes in a background thread and serves the learner batches of fresh groups.

    ``specs_for(i)`` gives iteration ``i``'s specs; the stream starts at ``first_iteration``. Each
    batch holds as many groups as one iteration has.
    """

    def __init__(self, engine: RolloutEngine, policy: VersionedPolicy, specs_for: SpecsFor, *,
                 first_iteration: int, max_staleness: int):
        if max_staleness < 0:
            raise ValueError(f"max_staleness must be >= 0, got {max_staleness}")
        self.engine = engine
        self.policy = policy
        self.max_staleness = max_staleness
        self.source = StreamSource(specs_for, first_iteration, max_staleness, policy)
        self.groups_per_batch = len({spec.group_id for spec in specs_for(first_iteration)})
        self._collecting: dict[tuple[int, str], list[Trajectory]] = {}
        self._ready: deque[list[Trajectory]] = deque()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.counters = {"stale_dropped_groups": 0, "stale_dropped_trajectories": 0}
        self._reported = {**self.counters, **engine.metrics, **engine.executor.metrics}

    # ------------------------------------------------------------------ the producer
    def start(self) -> "AsyncRollouts":
        if self._thread is not None:
            raise RuntimeError("the rollout thread is already running")
        self._thread = threading.Thread(target=self._produce, name="agentrl-async-rollouts", daemon=True)
        self._thread.start()
        return self

    def _produce(self) -> None:
        try:
            self.engine.play(self.policy, self.source, self._collect, stop=self._stop, in_order=False)
        except BaseException as exc:  # noqa: BLE001 - handed to the learner's thread in next_batch
            with self.source.condition:
                self._error = exc
                self.source.condition.notify_all()

    def _collect(self, key: int, trajectory: Trajectory) -> None:
        """A finished episode joins its group; a complete group is kept if fresh."""
        group_key = self.source.group_of.pop(key)
        group = self._collecting.setdefault(group_key, [])
        group.append(trajectory)
        self.source.finished()
        if len(group) < self.source.group_sizes[group_key]:
            return
        del self._collecting[group_key]
        del self.source.group_sizes[group_key]
        with self.source.condition:
            if self._fresh(group, self.policy.version):
                self._ready.append(group)
            else:
                self._drop(group)
            self.source.condition.notify_all()

    def _fresh(self, group: list[Trajectory], version: int) -> bool:
        return all(is_fresh(trajectory, version, self.max_staleness) for trajectory in group)

    def _drop(self, group: list[Trajectory]) -> None:
        self.counters["stale_dropped_groups"] += 1
        self.counters["stale_dropped_trajectories"] += len(group)
        self.source.rejected(len(group))

    # ------------------------------------------------------------------ the learner's side
    def next_batch(self, version: int, timeout: float | None = None) -> TrajectoryBatch:
        """The next batch of complete groups whose every turn is at most ``max_staleness`` versions
        older than ``version`` (the learner's); blocks until there are enough."""
        started = time.perf_counter()
        groups: list[list[Trajectory]] = []
        with self.source.condition:
            while len(groups) < self.groups_per_batch:
                if self._error is not None:
                    raise RolloutThreadError(f"the rollout thread failed: {self._error!r}") from self._error
                if self._ready:
                    group = self._ready.popleft()
                    if self._fresh(group, version):
                        groups.append(group)
                    else:
                        self._drop(group)
                    continue
                if self._thread is None or not self._thread.is_alive():
                    raise RolloutThreadError("the rollout thread is not running (call start() first)")
                if timeout is not None and time.perf_counter() - started > timeout:
                    raise TimeoutError(f"no batch of {self.groups_per_batch} fresh groups within {timeout} s")
                self.source.condition.wait(timeout=0.1)
        batch = TrajectoryBatch(trajectory for group in groups for trajectory in group)
        batch.metrics.update(self._metric_deltas())
        batch.metrics["time/rollout_wait_s"] = time.perf_counter() - started
        return batch

    def _metric_deltas(self) -> dict[str, float]:
        now = {**self.counters, **self.engine.metrics, **self.engine.executor.metrics}
        deltas = {_rollout_key(name): value - self._reported.get(name, 0) for name, value in now.items()}
        self._reported = now
        return deltas

    def close(self, timeout: float = 60.0) -> None:
        """Stop the producer after its current round (live episodes are abandoned)."""
        self._stop.set()
        with self.source.condition:
            self.source.condition.notify_all()
        if self._thread is not None:
            self._thread.join(timeout)


def _rollout_key(name: str) -> str:
    return name if name.startswith("rollout/") else f"rollout/{name}"
