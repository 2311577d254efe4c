"""Scale-out on Ray: rollout workers are Ray actors that host the envs; generation stays batched.

:class:`RayRolloutBackend` has the contract of :func:`agentrl.core.rollout.run_episodes`: it plays
every :class:`~agentrl.core.rollout.EpisodeSpec`, returns the trajectories in spec order, and makes
one batched ``policy.act`` call per round over every live episode on every worker. The envs live
in :class:`RolloutWorker` actors (created there, so docker-sandbox envs start their containers on
the worker's node). Each round sends every worker one call holding all of its steps, plus the
reset for the next episode of each slot that may finish, so starting an episode costs no extra
round trip.

Generation runs on the driver (any :class:`~agentrl.core.policy.Policy`) or on separate generation
actors (:class:`RayGenerationPolicy`, itself a ``Policy``, with ``sync_weights`` from the learner).

Fault tolerance: trajectories are assembled on the driver, so an episode that finished is never
lost. When a worker dies, it is replaced by a new actor, and the episodes it was playing are played
again from the start with the same seed and options; ``metrics`` counts both
(``rollout/worker_restarts``, ``rollout/episodes_rerun``).

Local Ray starts when none is running (``ray.init()``); a real cluster is reached through
``address=`` or the ``RAY_ADDRESS`` environment variable, as ``ray.init`` does.
"""

from __future__ import annotations

import heapq
import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from agentrl.core.policy import ActionOutput, Policy, PolicyInput
from agentrl.core.rollout import (
    EpisodeSpec, env_context, finish_trajectory, new_trajectory, policy_input, record_turn,
)
from agentrl.core.trajectory import Trajectory, TrajectoryBatch

# Ray reports usage statistics to its makers by default; agentrl sends nothing off the machine
# unless asked (RAY_USAGE_STATS_ENABLED=1 opts in). Set before Ray starts its processes.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")

try:
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError
except ImportError as exc:  # pragma: no cover - exercised only without the extra
    raise ImportError("the Ray backend needs Ray: pip install 'agentrl[ray]'") from exc


# ----------------------------------------------------------------------------------- worker
class RolloutWorker:
    """Hosts ``n_envs`` envs and runs batched commands on them (made a Ray actor by the backend)."""

    def __init__(self, env_id: str, env_kwargs: Mapping[str, Any], n_envs: int, entry: Any, threads: int = 1):
        from agentrl.core.registry import make, register

        register(
            entry.id, entry.entry_point, description=entry.description, extra=entry.extra, **entry.defaults
        )
        self.envs = [make(env_id, **dict(env_kwargs)) for _ in range(n_envs)]
        # Envs whose steps wait on I/O (sandbox commands) overlap their waits in threads.
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="agentrl-env") if threads > 1 else None

    def pid(self) -> int:
        return os.getpid()

    def run(self, commands: Sequence[tuple[int, str | None, tuple | None]]) -> list[tuple[Any, Any]]:
        """For each ``(slot, action, next_episode)``: step with ``action`` (if any), then, when the
        episode ended or there was no action, reset for ``next_episode = (seed, options)`` (if any).

        Returns ``(step_result, reset_result)`` per command, ``None`` where nothing ran.
        """
        if self.pool is None:
            return [self._run_one(*command) for command in commands]
        return list(self.pool.map(lambda command: self._run_one(*command), commands))

    def _run_one(self, slot: int, action: str | None, next_episode: tuple | None) -> tuple[Any, Any]:
        env, stepped, reset = self.envs[slot], None, None
        if action is not None:
            stepped = env.step(action)
        if next_episode is not None and (stepped is None or stepped[2] or stepped[3]):
            reset = self._reset(env, *next_episode)
        return stepped, reset

    @staticmethod
    def _reset(
        env, seed: int | None, options: dict[str, Any]
    ) -> tuple[Any, dict, str, list[str], str | None]:
        observation, info = env.reset(seed=seed, options=options or None)
        return (observation, info, *env_context(env))

    def close(self) -> None:
        """Close the envs, then the sandboxes this process pooled, and wait until they are removed."""
        for env in self.envs:
            env.close()
        if self.pool is not None:
            self.pool.shutdown()
        sandboxes = sys.modules.get("agentrl.sandboxes.pool")
        if sandboxes is not None:  # envs share process-wide sandbox pools; removal runs in the background
            sandboxes.close_shared_pools()
            sandboxes.wait_discarded()


# ------------------------------------------------------------------------------- the driver
@dataclass
class _Slot:
    """One env on one worker, and the episode it is playing (if any)."""

    worker: int
    index: int
    key: int = -1
    spec: EpisodeSpec | None = None
    trajectory: Trajectory | None = None
    observation: Any = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Run:
    """The state of one ``run_episodes`` call."""

    pending: list[tuple[int, EpisodeSpec]]
    """Specs not started yet, as a heap by spec index: re-runs go first."""
    results: dict[int, Trajectory] = field(default_factory=dict)
    on_episode: Callable[[Trajectory], None] | None = None


@dataclass
class _Command:
    slot: _Slot
    output: ActionOutput | None
    """The action to play, or ``None`` for a reset only."""
    reserved: tuple[int, EpisodeSpec] | None
    """The episode to start on this slot if the current one ends in this round."""


class RayRolloutBackend:
    """Plays episodes on Ray actors with the contract of ``run_episodes`` (see module docstring)."""

    def __init__(
        self,
        env_id: str,
        env_kwargs: Mapping[str, Any] | None = None,
        num_workers: int = 2,
        envs_per_worker: int = 4,
        address: str | None = None,
        *,
        worker_num_cpus: float = 1.0,
        threads_per_worker: int = 1,
        max_worker_restarts: int = 10,
        init_kwargs: Mapping[str, Any] | None = None,
    ):
        from agentrl.core.registry import env_entry

        if num_workers < 1 or envs_per_worker < 1:
            raise ValueError("num_workers and envs_per_worker must be >= 1")
        entry = env_entry(env_id)  # unknown ids fail here, listing the registered ones
        self.env_id, self.env_kwargs = entry.id, dict(env_kwargs or {})
        self.envs_per_worker, self.max_worker_restarts = envs_per_worker, max_worker_restarts
        self.threads_per_worker = threads_per_worker
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            ray.init(address=address, include_dashboard=False, **dict(init_kwargs or {}))
        self._entry = entry  # workers register it too: user envs exist only in the driver's registry
        self._actor_class = ray.remote(num_cpus=worker_num_cpus)(RolloutWorker)
        self.workers = [self._spawn() for _ in range(num_workers)]
        ray.get([worker.pid.remote() for worker in self.workers])  # env construction errors surface here
        self.metrics: dict[str, float] = {
            "rollout/episodes": 0,
            "rollout/env_steps": 0,
            "rollout/remote_calls": 0,
            "rollout/episodes_rerun": 0,
            "rollout/worker_restarts": 0,
        }

    def _spawn(self):
        return self._actor_class.remote(
            self.env_id, self.env_kwargs, self.envs_per_worker, self._entry, self.threads_per_worker
        )

    # ------------------------------------------------------------------ the rollout
    def run_episodes(
        self,
        policy: Policy,
        specs: Sequence[EpisodeSpec],
        *,
        on_episode: Callable[[Trajectory], None] | None = None,
    ) -> TrajectoryBatch:
        """Play every spec to the end; trajectories come back in the order of ``specs``."""
        before = dict(self.metrics)
        started = time.perf_counter()
        run = _Run(pending=list(enumerate(specs)), on_episode=on_episode)  # sorted: already a heap
        slots = [_Slot(w, i) for w in range(len(self.workers)) for i in range(self.envs_per_worker)]
        while run.pending or any(slot.trajectory is not None for slot in slots):
            self._send(self._plan(policy, slots, run), slots, run)
        batch = TrajectoryBatch(run.results[key] for key in range(len(specs)))
        batch.metrics.update({name: self.metrics[name] - before[name] for name in self.metrics})
        batch.metrics["rollout/seconds"] = time.perf_counter() - started
        return batch

    def _plan(self, policy: Policy, slots: list[_Slot], run: _Run) -> list[_Command]:
        """Ask the policy for every live episode's action; reserve the next spec for every slot."""
        live = [slot for slot in slots if slot.trajectory is not None]
        outputs = policy.act([_policy_input(slot) for slot in live]) if live else []
        if len(outputs) != len(live):
            raise RuntimeError(f"policy returned {len(outputs)} actions for {len(live)} episodes")
        commands = []
        for slot, output in zip(live, outputs):
            if output.context_exhausted:  # ends without an env step, as in run_episodes
                slot.trajectory.context_truncated = True  # type: ignore[union-attr]
                self._finish(slot, run)
            else:
                commands.append(_Command(slot, output, heapq.heappop(run.pending) if run.pending else None))
        for slot in slots:
            if slot.trajectory is None and run.pending:
                commands.append(_Command(slot, None, heapq.heappop(run.pending)))
        return commands

    def _send(self, commands: list[_Command], slots: list[_Slot], run: _Run) -> None:
        """One remote call per worker; apply the replies, or recover from a dead worker."""
        by_worker: dict[int, list[_Command]] = {}
        for command in commands:
            by_worker.setdefault(command.slot.worker, []).append(command)
        calls = {w: self.workers[w].run.remote([_wire(c) for c in batch]) for w, batch in by_worker.items()}
        self.metrics["rollout/remote_calls"] += len(calls)
        for w, call in calls.items():
            try:
                replies = ray.get(call)
            except RayActorError as error:
                self._replace_worker(w, slots, by_worker[w], run, error)
                continue
            for command, (stepped, reset) in zip(by_worker[w], replies):
                self._apply(command, stepped, reset, run)

    def _apply(self, command: _Command, stepped: tuple | None, reset: tuple | None, run: _Run) -> None:
        slot = command.slot
        if stepped is not None:
            self.metrics["rollout/env_steps"] += 1
            if _record(slot, command.output, stepped):  # type: ignore[arg-type]
                self._finish(slot, run)
        if command.reserved is None:
            return
        if reset is None:  # the episode goes on: give the reservation back
            heapq.heappush(run.pending, command.reserved)
        else:
            _start(slot, command.reserved, reset)

    def _finish(self, slot: _Slot, run: _Run) -> None:
        trajectory = _close(slot)
        run.results[slot.key] = trajectory
        self.metrics["rollout/episodes"] += 1
        if run.on_episode is not None:
            run.on_episode(trajectory)

    def _replace_worker(
        self, w: int, slots: list[_Slot], batch: list[_Command], run: _Run, error: Exception
    ) -> None:
        """Start a new actor for worker ``w`` and queue its in-flight episodes to play again."""
        if self.metrics["rollout/worker_restarts"] >= self.max_worker_restarts:
            raise RuntimeError(
                f"rollout worker {w} died and the restart budget "
                f"({self.max_worker_restarts}) is spent; last error: {error}"
            ) from error
        for slot in slots:
            if slot.worker == w and slot.trajectory is not None:
                heapq.heappush(run.pending, (slot.key, slot.spec))
                self.metrics["rollout/episodes_rerun"] += 1
                slot.trajectory, slot.spec, slot.key = None, None, -1
        for command in batch:
            if command.reserved is not None:
                heapq.heappush(run.pending, command.reserved)
        ray.kill(self.workers[w], no_restart=True)
        self.workers[w] = self._spawn()
        self.metrics["rollout/worker_restarts"] += 1

    # --------------------------------------------------------------------- lifecycle
    def worker_pids(self) -> list[int]:
        return ray.get([worker.pid.remote() for worker in self.workers])

    def close(self, timeout: float = 60.0) -> None:
        """Close every env and the sandboxes its worker pooled (waiting until they are removed), end
        the workers, and stop Ray if this backend started it. An env's error while closing is raised
        once everything is closed."""
        workers, self.workers = self.workers, []
        errors: list[Exception] = []
        try:
            for call in [worker.close.remote() for worker in workers]:
                try:
                    ray.get(call, timeout=timeout)
                except RayActorError:
                    pass  # a dead worker has nothing left to close; its containers are reaped by owner label
                except Exception as exc:  # noqa: BLE001 - keep closing the others, raise below
                    errors.append(exc)
        finally:
            for worker in workers:
                ray.kill(worker, no_restart=True)
            # ray.kill only asks: wait until each worker is gone, so nothing runs on it after close.
            deadline = time.monotonic() + timeout
            for worker in workers:
                _await_exit(worker, deadline)
            if self._owns_ray and ray.is_initialized():
                ray.shutdown()
        if errors:
            raise errors[0]

    def __enter__(self) -> "RayRolloutBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _await_exit(worker, deadline: float) -> None:
    """Return once ``worker`` no longer answers (or at ``deadline``)."""
    while time.monotonic() < deadline:
        try:
            ray.get(worker.__ray_ready__.remote(), timeout=max(deadline - time.monotonic(), 0.01))
        except (RayActorError, GetTimeoutError):
            return
        time.sleep(0.02)


# ---------------------------------------------------------- trajectory assembly (as run_episodes)
def _wire(command: _Command) -> tuple[int, str | None, tuple | None]:
    reserved = command.reserved
    next_episode = (reserved[1].seed, dict(reserved[1].options)) if reserved is not None else None
    return command.slot.index, command.output.text if command.output is not None else None, next_episode


def _start(slot: _Slot, reserved: tuple[int, EpisodeSpec], reset: tuple) -> None:
    observation, info, instructions, subgoals, env_spec_id = reset
    slot.key, slot.spec = reserved
    slot.observation, slot.info = observation, info
    slot.trajectory = new_trajectory(slot.spec, info, instructions, subgoals, env_spec_id)


def _policy_input(slot: _Slot) -> PolicyInput:
    assert slot.trajectory is not None
    return policy_input(slot.trajectory, slot.observation, slot.info, slot.key)


def _record(slot: _Slot, output: ActionOutput, stepped: tuple) -> bool:
    """Append the turn; True when the episode ended."""
    assert slot.trajectory is not None
    done = record_turn(slot.trajectory, slot.observation, output, stepped)
    slot.observation, slot.info = stepped[0], stepped[4]
    return done


def _close(slot: _Slot) -> Trajectory:
    assert slot.trajectory is not None
    trajectory = finish_trajectory(slot.trajectory, slot.observation, slot.info)
    slot.trajectory, slot.spec = None, None
    return trajectory


# -------------------------------------------------------------------------- generation actors
class GenerationWorker:
    """Hosts one policy built by ``factory`` (a Ray actor; its weights come from ``load_weights``)."""

    def __init__(self, factory: Callable[[], Policy]):
        self.policy = factory()

    def act(self, inputs: list[PolicyInput]) -> list[ActionOutput]:
        return self.policy.act(inputs)

    def load_weights(self, state_dict: Mapping[str, Any]) -> None:
        load = getattr(self.policy, "load_weights", None)
        if load is None:
            raise TypeError(
                f"{type(self.policy).__name__} has no load_weights(state_dict) to sync weights into"
            )
        load(state_dict)


class RayGenerationPolicy:
    """A ``Policy`` whose ``act`` runs on generation actors (for example one per GPU).

    Each batch is split into contiguous shards, one per actor, generated in parallel and joined in
    order. ``sync_weights(state_dict)`` sends the learner's weights to every actor once (through the
    object store); an actor that dies is replaced, given the last synced weights, and its shard is
    generated again.
    """

    def __init__(
        self,
        factory: Callable[[], Policy],
        num_actors: int = 1,
        *,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
    ):
        if num_actors < 1:
            raise ValueError("num_actors must be >= 1")
        if not ray.is_initialized():
            ray.init(include_dashboard=False)
        self._actor_class = ray.remote(num_cpus=num_cpus, num_gpus=num_gpus)(GenerationWorker)
        self.factory = factory
        self.actors = [self._actor_class.remote(factory) for _ in range(num_actors)]
        self._weights = None
        self.restarts = 0

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        inputs = list(inputs)
        size = -(-len(inputs) // len(self.actors)) if inputs else 0
        shards = [inputs[i * size : (i + 1) * size] for i in range(len(self.actors))]
        calls = [actor.act.remote(shard) if shard else None for actor, shard in zip(self.actors, shards)]
        outputs: list[ActionOutput] = []
        for index, (call, shard) in enumerate(zip(calls, shards)):
            if call is None:
                continue
            try:
                outputs.extend(ray.get(call))
            except RayActorError:
                outputs.extend(ray.get(self._replace(index).act.remote(shard)))
        return outputs

    def sync_weights(self, state_dict: Mapping[str, Any]) -> None:
        """Load the learner's weights into every generation actor."""
        self._weights = ray.put(dict(state_dict))
        ray.get([actor.load_weights.remote(self._weights) for actor in self.actors])

    def _replace(self, index: int):
        ray.kill(self.actors[index], no_restart=True)
        actor = self._actor_class.remote(self.factory)
        if self._weights is not None:
            ray.get(actor.load_weights.remote(self._weights))
        self.actors[index] = actor
        self.restarts += 1
        return actor

    def close(self) -> None:
        for actor in self.actors:
            ray.kill(actor, no_restart=True)
        self.actors = []
