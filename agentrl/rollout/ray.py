"""Scale-out on Ray: the envs live in Ray actors; generation stays batched on the driver.

:class:`RayRolloutBackend` follows the :class:`~agentrl.rollout.backend.RolloutBackend` protocol with
the same engine as the in-process backend (:class:`~agentrl.rollout.engine.RolloutEngine`); only the
executor differs. :class:`RayExecutor` keeps the envs in :class:`RolloutWorker` actors (created there,
so docker-sandbox envs start their containers on the worker's node) and sends each worker one call
per round holding all of its slots' commands (a step, plus the reset for the next episode if the
step ends the current one).

Generation runs on the driver (any :class:`~agentrl.core.policy.Policy`) or on separate generation
actors (:class:`RayGenerationPolicy`, itself a ``Policy``, with ``sync_weights`` from the learner).

Fault tolerance: trajectories are assembled on the driver, so an episode that finished is never
lost. When a worker dies, it is replaced by a new actor and the engine plays the episodes it was
hosting again from the start with the same seed and options (``rollout/worker_restarts``,
``rollout/episodes_rerun``).

Ray is an optional extra (``pip install 'agentrl[ray]'``); it is imported when a backend starts.
Local Ray starts when none is running; a real cluster is reached through ``RayConfig.address`` or
the ``RAY_ADDRESS`` environment variable, as ``ray.init`` does.
"""

from __future__ import annotations

import os
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

from agentrl.core.config import build_config
from agentrl.core.policy import ActionOutput, Policy, PolicyInput, TrainablePolicy
from agentrl.core.registry import EnvEntry, env_entry, make, register
from agentrl.core.trajectory import Trajectory, TrajectoryBatch
from agentrl.rollout.engine import Command, Reply, RolloutEngine, execute
from agentrl.rollout.spec import EpisodeSpec

# Ray reports usage statistics to its makers by default; agentrl sends nothing off the machine
# unless asked (RAY_USAGE_STATS_ENABLED=1 opts in). Set before Ray starts its processes.
os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")


def _ray():
    """The ``ray`` module (an optional extra), imported on first use."""
    try:
        import ray
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError("the Ray backend needs Ray: pip install 'agentrl[ray]'") from exc
    return ray


@dataclass
class RayConfig:
    """Where and how the Ray rollout workers run (``rollout.ray`` in a train config)."""

    num_workers: int = 2
    envs_per_worker: int = 8
    address: str | None = None
    """Ray cluster address (default: the RAY_ADDRESS variable, else a local instance)."""
    worker_num_cpus: float = 1.0
    """CPUs reserved per rollout worker actor."""
    threads_per_worker: int = 1
    """Threads stepping envs inside a worker (overlaps I/O waits such as sandbox commands)."""
    max_worker_restarts: int = 10
    """Dead workers replaced before the run gives up."""

    def __post_init__(self) -> None:
        if self.num_workers < 1 or self.envs_per_worker < 1:
            raise ValueError("num_workers and envs_per_worker must be >= 1")


# ----------------------------------------------------------------------------------- worker
class RolloutWorker:
    """Hosts ``n_envs`` envs and runs the engine's commands on them (made a Ray actor by the executor)."""

    def __init__(self, env_id: str, env_kwargs: Mapping[str, Any], n_envs: int, entry: EnvEntry, threads: int = 1):
        register(entry.id, entry.entry_point, description=entry.description, extra=entry.extra, **entry.defaults)
        self.envs = [make(env_id, **dict(env_kwargs)) for _ in range(n_envs)]
        # Envs whose steps wait on I/O (sandbox commands) overlap their waits in threads.
        self.pool = ThreadPoolExecutor(threads, thread_name_prefix="agentrl-env") if threads > 1 else None

    def pid(self) -> int:
        return os.getpid()

    def run(self, commands: Sequence[Command]) -> list[Reply]:
        """Each command names a slot of this worker (0..n_envs-1)."""
        if self.pool is None:
            return [execute(self.envs[c.slot], c) for c in commands]
        return list(self.pool.map(lambda c: execute(self.envs[c.slot], c), commands))

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


# ------------------------------------------------------------------------------- the executor
class RayExecutor:
    """Slots ``w * envs_per_worker + i`` are env ``i`` of worker ``w``; one remote call per worker per round."""

    def __init__(self, env_id: str, env_kwargs: Mapping[str, Any], config: RayConfig,
                 init_kwargs: Mapping[str, Any] | None = None):
        ray = _ray()
        entry = env_entry(env_id)  # unknown ids fail here, listing the registered ones
        self.env_id, self.env_kwargs, self.config = entry.id, dict(env_kwargs), config
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            ray.init(address=config.address, include_dashboard=False, **dict(init_kwargs or {}))
        self._entry = entry  # workers register it too: user envs exist only in the driver's registry
        self._actor_class = ray.remote(num_cpus=config.worker_num_cpus)(RolloutWorker)
        self.workers = [self._spawn() for _ in range(config.num_workers)]
        ray.get([worker.pid.remote() for worker in self.workers])  # env construction errors surface here
        self.num_slots = config.num_workers * config.envs_per_worker
        self.metrics: dict[str, float] = {"rollout/remote_calls": 0, "rollout/worker_restarts": 0}

    def _spawn(self):
        return self._actor_class.remote(self.env_id, self.env_kwargs, self.config.envs_per_worker, self._entry,
                                        self.config.threads_per_worker)

    def execute(self, commands: Sequence[Command]) -> list[Reply | None]:
        ray = _ray()
        per = self.config.envs_per_worker
        by_worker: dict[int, list[int]] = {}
        for position, command in enumerate(commands):
            by_worker.setdefault(command.slot // per, []).append(position)
        calls = {
            w: self.workers[w].run.remote([_local(commands[p], per) for p in positions])
            for w, positions in by_worker.items()
        }
        self.metrics["rollout/remote_calls"] += len(calls)
        replies: list[Reply | None] = [None] * len(commands)
        for w, call in calls.items():
            try:
                answers = ray.get(call)
            except ray.exceptions.RayActorError as error:
                self._replace_worker(w, error)
                continue
            for position, answer in zip(by_worker[w], answers):
                replies[position] = answer
        return replies

    def _replace_worker(self, w: int, error: Exception) -> None:
        if self.metrics["rollout/worker_restarts"] >= self.config.max_worker_restarts:
            raise RuntimeError(
                f"rollout worker {w} died and the restart budget ({self.config.max_worker_restarts}) is spent; "
                f"last error: {error}"
            ) from error
        _ray().kill(self.workers[w], no_restart=True)
        self.workers[w] = self._spawn()
        self.metrics["rollout/worker_restarts"] += 1

    def worker_pids(self) -> list[int]:
        return _ray().get([worker.pid.remote() for worker in self.workers])

    def close(self, timeout: float = 60.0) -> None:
        """Close every env and the sandboxes its worker pooled (waiting until they are removed), end
        the workers, and stop Ray if this executor started it. An env's error while closing is raised
        once everything is closed."""
        ray = _ray()
        workers, self.workers = self.workers, []
        errors: list[Exception] = []
        try:
            for call in [worker.close.remote() for worker in workers]:
                try:
                    ray.get(call, timeout=timeout)
                except ray.exceptions.RayActorError:
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


def _local(command: Command, per_worker: int) -> Command:
    return Command(command.slot % per_worker, command.action, command.next_episode)


def _await_exit(worker, deadline: float) -> None:
    """Return once ``worker`` no longer answers (or at ``deadline``)."""
    ray = _ray()
    while time.monotonic() < deadline:
        try:
            ray.get(worker.__ray_ready__.remote(), timeout=max(deadline - time.monotonic(), 0.01))
        except (ray.exceptions.RayActorError, ray.exceptions.GetTimeoutError):
            return
        time.sleep(0.02)


# ---------------------------------------------------------------------------------- the backend
class RayRolloutBackend:
    """The rollout backend whose envs live on Ray actors (see module docstring)."""

    def __init__(self, env_id: str, env_kwargs: Mapping[str, Any] | None = None,
                 config: RayConfig | Mapping[str, Any] | None = None, *,
                 init_kwargs: Mapping[str, Any] | None = None, waves: int = 1, **overrides: Any):
        settings = build_config(RayConfig, config, overrides, where="RayRolloutBackend")
        if settings.num_workers % waves:  # a wave is whole workers: calls to one actor run one at a time
            raise ValueError(f"rollout.waves ({waves}) must divide ray.num_workers ({settings.num_workers})")
        self.executor = RayExecutor(env_id, env_kwargs or {}, settings, init_kwargs)
        self.engine = RolloutEngine(self.executor, waves)

    @property
    def metrics(self) -> dict[str, float]:
        return {**self.engine.metrics, **self.executor.metrics}

    @property
    def workers(self) -> list:
        return self.executor.workers

    def run_episodes(self, policy: Policy, specs: Sequence[EpisodeSpec], *,
                     on_episode: Callable[[Trajectory], None] | None = None) -> TrajectoryBatch:
        """Play every spec to the end; trajectories come back in the order of ``specs``."""
        return self.engine.run(policy, specs, on_episode=on_episode)

    def worker_pids(self) -> list[int]:
        return self.executor.worker_pids()

    def close(self, timeout: float = 60.0) -> None:
        self.executor.close(timeout)

    def __enter__(self) -> "RayRolloutBackend":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


# -------------------------------------------------------------------------- generation actors
class GenerationWorker:
    """Hosts one policy built by ``factory`` (a Ray actor; its weights come from ``load_weights``)."""

    def __init__(self, factory: Callable[[], Policy]):
        self.policy = factory()

    def act(self, inputs: list[PolicyInput]) -> list[ActionOutput]:
        return self.policy.act(inputs)

    def load_weights(self, state_dict: Mapping[str, Any]) -> None:
        if not isinstance(self.policy, TrainablePolicy):
            raise TypeError(f"{type(self.policy).__name__} is not a TrainablePolicy: it has no "
                            "load_weights(state_dict) to sync weights into")
        self.policy.load_weights(state_dict)


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
        ray = _ray()
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
        ray = _ray()
        calls = [actor.act.remote(shard) if shard else None for actor, shard in zip(self.actors, shards)]
        outputs: list[ActionOutput] = []
        for index, (call, shard) in enumerate(zip(calls, shards)):
            if call is None:
                continue
            try:
                outputs.extend(ray.get(call))
            except ray.exceptions.RayActorError:
                outputs.extend(ray.get(self._replace(index).act.remote(shard)))
        return outputs

    def sync_weights(self, state_dict: Mapping[str, Any]) -> None:
        """Load the learner's weights into every generation actor."""
        ray = _ray()
        self._weights = ray.put(dict(state_dict))
        ray.get([actor.load_weights.remote(self._weights) for actor in self.actors])

    def _replace(self, index: int):
        ray = _ray()
        ray.kill(self.actors[index], no_restart=True)
        actor = self._actor_class.remote(self.factory)
        if self._weights is not None:
            ray.get(actor.load_weights.remote(self._weights))
        self.actors[index] = actor
        self.restarts += 1
        return actor

    def close(self) -> None:
        for actor in self.actors:
            _ray().kill(actor, no_restart=True)
        self.actors = []
