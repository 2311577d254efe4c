"""The rollout engine: plays episode specs on env slots with one batched policy call per round.

The engine owns everything that must be the same for every backend: which spec a slot plays next,
the episode's trajectory, the context-limit ending, the order of results, re-playing episodes whose
host died. Where the envs live is the :class:`EnvExecutor`'s business:

* :class:`LocalExecutor` -- the envs are in this process (optionally stepped from threads, so envs
  that wait on I/O, like sandbox commands or HTTP calls, overlap their waits);
* :class:`agentrl.rollout.ray.RayExecutor` -- the envs live in Ray actors, one call per worker per round.

Each round the engine asks the policy for every live episode's action, then sends each slot one
:class:`Command`: step with the action and, if that ends the episode, reset for the next spec (so
starting an episode costs no extra round trip to a remote host).

With ``waves > 1`` the slots are split into that many waves (contiguous blocks of slots) that take
turns: while one wave's commands run on the executor (in helper threads), the policy chooses the
actions of the waves whose commands came back, so generation overlaps the env's waits instead of
alternating with them (Sample Factory's double-buffered sampling). Each wave is a round of its own:
its slots wait only for the slowest step of their wave. By default the waves are applied in the order
their commands were sent, so the order of policy calls and spec draws is fixed and seeded runs stay
reproducible; the asynchronous actors take whichever waves finish first instead
(``play(..., in_order=False)``), so a straggling step holds up its own wave only. ``waves=1`` is the
plain round loop.

Specs come from a :class:`SpecSource`: :meth:`RolloutEngine.run` plays a fixed list
(:class:`SpecQueue`) and returns the batch in spec order; :meth:`RolloutEngine.play` plays any
source until it is exhausted or a stop event is set, handing each trajectory over as it finishes
(the asynchronous trainer streams specs this way: :mod:`agentrl.rollout.asynchronous`).
"""

from __future__ import annotations

import heapq
import threading
import time
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from typing import Any, Callable, Protocol, Sequence

import gymnasium as gym

from agentrl.core.policy import ActionOutput, Policy
from agentrl.core.trajectory import Trajectory, TrajectoryBatch
from agentrl.rollout.assembly import env_context, finish_trajectory, new_trajectory, policy_input, record_turn
from agentrl.rollout.spec import EpisodeSpec


@dataclass
class Command:
    """What one env slot does in a round."""

    slot: int
    action: str | None
    """The action to step with, or ``None`` for a reset only."""
    next_episode: tuple[int | None, dict[str, Any]] | None
    """``(seed, options)`` to reset with when the episode ended (or there was no action)."""


@dataclass
class Reply:
    """What a slot's command did: the ``step`` result and the ``reset`` result (each when it ran)."""

    stepped: tuple | None = None
    reset: tuple | None = None
    """``(observation, info, instructions, subgoals, env id)``."""


def execute(env: gym.Env, command: Command) -> Reply:
    """Run one command on one env (the same code on every host)."""
    reply = Reply()
    if command.action is not None:
        reply.stepped = env.step(command.action)
    if command.next_episode is not None and (reply.stepped is None or reply.stepped[2] or reply.stepped[3]):
        seed, options = command.next_episode
        observation, info = env.reset(seed=seed, options=dict(options) or None)
        reply.reset = (observation, info, *env_context(env))
    return reply


class EnvExecutor(Protocol):
    """Runs commands on env slots. ``execute`` returns one reply per command, or ``None`` for a
    command whose host failed (its episode is played again from the start)."""

    num_slots: int
    metrics: dict[str, float]

    def execute(self, commands: Sequence[Command]) -> list[Reply | None]: ...

    def close(self) -> None: ...


class LocalExecutor:
    """Envs in this process; ``threads > 1`` steps them concurrently (I/O-bound envs)."""

    def __init__(self, envs: Sequence[gym.Env], threads: int = 1):
        if not envs:
            raise ValueError("a rollout needs at least one env")
        self.envs = list(envs)
        self.num_slots = len(self.envs)
        self.metrics: dict[str, float] = {}
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="agentrl-env") if threads > 1 else None

    def execute(self, commands: Sequence[Command]) -> list[Reply | None]:
        if self._pool is None or len(commands) < 2:
            return [execute(self.envs[c.slot], c) for c in commands]
        return list(self._pool.map(lambda c: execute(self.envs[c.slot], c), commands))

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()
        for env in self.envs:
            env.close()


class SpecSource(Protocol):
    """Where the engine takes the next episode to start from.

    ``pop`` gives ``(key, spec)`` or ``None`` (nothing to start now); ``push`` gives back a spec the
    engine reserved but did not start, or one whose host died (it is played again); ``exhausted``
    says that no spec will ever come; ``wait`` is called when a round had nothing to do and should
    return once something may have changed.
    """

    def pop(self) -> tuple[int, EpisodeSpec] | None: ...

    def push(self, item: tuple[int, EpisodeSpec]) -> None: ...

    def exhausted(self) -> bool: ...

    def wait(self) -> None: ...


class SpecQueue:
    """A fixed list of specs, keyed by their index; the lowest key first, so re-runs go first."""

    def __init__(self, items: Sequence[tuple[int, EpisodeSpec]] = ()):
        self._heap = list(items)
        heapq.heapify(self._heap)

    def pop(self) -> tuple[int, EpisodeSpec] | None:
        return heapq.heappop(self._heap) if self._heap else None

    def push(self, item: tuple[int, EpisodeSpec]) -> None:
        heapq.heappush(self._heap, item)

    def exhausted(self) -> bool:
        return not self._heap

    def wait(self) -> None:
        pass


EpisodeSink = Callable[[int, Trajectory], None]
"""Receives each finished trajectory with the key of its spec."""


@dataclass
class _Slot:
    """One env slot and the episode it plays (if any)."""

    index: int
    key: int = -1
    spec: EpisodeSpec | None = None
    trajectory: Trajectory | None = None
    observation: Any = None
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class _Planned:
    """A command with what the engine needs to apply its reply."""

    slot: _Slot
    command: Command
    output: ActionOutput | None
    reserved: tuple[int, EpisodeSpec] | None
    """The spec the slot starts if its episode ends this round."""


class RolloutEngine:
    """Plays specs on an executor's slots (see module docstring)."""

    def __init__(self, executor: EnvExecutor, waves: int = 1):
        if not 1 <= waves <= executor.num_slots:
            raise ValueError(f"waves must be between 1 and the number of env slots ({executor.num_slots}), got {waves}")
        self.executor = executor
        self.waves = waves
        self.metrics: dict[str, float] = {"rollout/episodes": 0, "rollout/env_steps": 0, "rollout/episodes_rerun": 0,
                                          "rollout/policy_calls": 0, "rollout/policy_inputs": 0}
        """Counters; ``policy_inputs / policy_calls`` is the mean batch of a policy call (small batches
        cost generation throughput: each call decodes token by token whatever its size)."""

    def run(self, policy: Policy, specs: Sequence[EpisodeSpec], *,
            on_episode: Callable[[Trajectory], None] | None = None) -> TrajectoryBatch:
        """Play every spec to the end; trajectories come back in the order of ``specs``."""
        started = time.perf_counter()
        before = {**self.metrics, **self.executor.metrics}
        results: dict[int, Trajectory] = {}

        def keep(key: int, trajectory: Trajectory) -> None:
            results[key] = trajectory
            if on_episode is not None:
                on_episode(trajectory)

        self.play(policy, SpecQueue(list(enumerate(specs))), keep)
        batch = TrajectoryBatch(results[key] for key in range(len(specs)))
        now = {**self.metrics, **self.executor.metrics}
        batch.metrics.update({name: value - before.get(name, 0) for name, value in now.items()})
        batch.metrics["time/rollout_engine_s"] = time.perf_counter() - started
        return batch

    def play(self, policy: Policy, source: SpecSource, sink: EpisodeSink, *,
             stop: threading.Event | None = None, in_order: bool = True) -> None:
        """Play specs from ``source`` until it is exhausted and no episode is live, or until
        ``stop`` is set (live episodes are then abandoned); ``sink`` gets every finished trajectory.

        With waves, ``in_order`` plans them in a fixed turn (reproducible); ``in_order=False`` plans
        whichever waves' commands finished first, so a straggling step holds up only its own wave
        (the asynchronous actors play this way)."""
        slots = [_Slot(i) for i in range(self.executor.num_slots)]
        if self.waves > 1:
            self._play_waves(policy, slots, source, sink, stop, in_order)
            return
        while not (stop is not None and stop.is_set()):
            live = any(slot.trajectory is not None for slot in slots)
            if not live and source.exhausted():
                return
            planned = self._plan(policy, slots, source, sink)
            if not planned:
                if not any(slot.trajectory is not None for slot in slots):
                    source.wait()  # nothing live and nothing may start yet
                continue
            replies = self.executor.execute([p.command for p in planned])
            for plan, reply in zip(planned, replies):
                self._apply(plan, reply, source, sink)

    def _play_waves(self, policy, slots: list[_Slot], source: SpecSource, sink: EpisodeSink,
                    stop: threading.Event | None, in_order: bool) -> None:
        """:meth:`play` with the slots in waves: the waves with no command running are planned with
        one policy call while the others' commands run; each wave's commands go out as one call."""
        count = len(slots)
        wave_of = [i * self.waves // count for i in range(count)]  # contiguous blocks of slots
        in_flight: dict[int, tuple[list[_Planned], Future]] = {}  # by wave, in the order sent
        with ThreadPoolExecutor(self.waves, thread_name_prefix="agentrl-wave") as stepper:
            while not (stop is not None and stop.is_set()):
                idle = [slot for slot in slots if wave_of[slot.index] not in in_flight]
                by_wave: dict[int, list[_Planned]] = {}
                for plan in self._plan(policy, idle, source, sink) if idle else []:
                    by_wave.setdefault(wave_of[plan.slot.index], []).append(plan)
                for wave, planned in sorted(by_wave.items()):
                    in_flight[wave] = (planned, stepper.submit(self.executor.execute, [p.command for p in planned]))
                if not in_flight:
                    if not any(slot.trajectory is not None for slot in slots):
                        if source.exhausted():
                            return
                        source.wait()  # nothing live and nothing may start yet
                    continue
                for wave in _landed(in_flight, in_order):
                    planned, replies = in_flight.pop(wave)
                    for plan, reply in zip(planned, replies.result()):
                        self._apply(plan, reply, source, sink)

    def _plan(self, policy, slots, source: SpecSource, sink: EpisodeSink) -> list[_Planned]:
        live = [slot for slot in slots if slot.trajectory is not None]
        outputs = policy.act([policy_input(s.trajectory, s.observation, s.info, s.key) for s in live]) if live else []
        if live:
            self.metrics["rollout/policy_calls"] += 1
            self.metrics["rollout/policy_inputs"] += len(live)
        if len(outputs) != len(live):
            raise RuntimeError(f"policy returned {len(outputs)} actions for {len(live)} episodes")
        stepping = []
        for slot, output in zip(live, outputs):
            if output.context_exhausted:  # the context is full: the episode ends here, unstepped
                slot.trajectory.context_truncated = True
                self._finish(slot, sink)
            else:
                stepping.append((slot, output))
        commands = []
        # Idle slots start an episode first; then each stepping slot reserves the next spec in case
        # its episode ends (a source that rations specs serves the idle slots before the reservations).
        for slot in slots:
            if slot.trajectory is None:
                reserved = source.pop()
                if reserved is None:
                    break
                commands.append(_Planned(slot, Command(slot.index, None, _wire(reserved)), None, reserved))
        for slot, output in stepping:
            reserved = source.pop()
            commands.append(_Planned(slot, Command(slot.index, output.text, _wire(reserved)), output, reserved))
        return commands

    def _apply(self, plan: _Planned, reply: Reply | None, source: SpecSource, sink: EpisodeSink) -> None:
        slot, output, reserved = plan.slot, plan.output, plan.reserved
        if reply is None:  # the host died: play its episode (and the reservation) again later
            if slot.trajectory is not None:
                source.push((slot.key, slot.spec))
                self.metrics["rollout/episodes_rerun"] += 1
                slot.trajectory, slot.spec = None, None
            if reserved is not None:
                source.push(reserved)
            return
        if reply.stepped is not None:
            self.metrics["rollout/env_steps"] += 1
            assert slot.trajectory is not None and output is not None
            if record_turn(slot.trajectory, slot.observation, output, reply.stepped):
                slot.observation, slot.info = reply.stepped[0], reply.stepped[4]
                self._finish(slot, sink)
            else:
                slot.observation, slot.info = reply.stepped[0], reply.stepped[4]
        if reserved is None:
            return
        if reply.reset is None:  # the episode goes on: give the reservation back
            source.push(reserved)
            return
        observation, info, instructions, subgoals, env_id = reply.reset
        slot.key, slot.spec = reserved
        slot.observation, slot.info = observation, info
        slot.trajectory = new_trajectory(slot.spec, info, instructions, subgoals, env_id)

    def _finish(self, slot: _Slot, sink: EpisodeSink) -> None:
        assert slot.trajectory is not None
        trajectory = finish_trajectory(slot.trajectory, slot.observation, slot.info)
        slot.trajectory, slot.spec = None, None
        self.metrics["rollout/episodes"] += 1
        sink(slot.key, trajectory)


def _landed(in_flight: dict[int, tuple[list[_Planned], Future]], in_order: bool) -> list[int]:
    """The waves whose commands to apply next: the one sent first (waiting for it), or (not
    ``in_order``) every wave whose commands have finished (waiting for the first)."""
    if in_order:
        return [next(iter(in_flight))]
    wait([future for _, future in in_flight.values()], return_when=FIRST_COMPLETED)
    return sorted(wave for wave, (_, future) in in_flight.items() if future.done())


def _wire(reserved: tuple[int, EpisodeSpec] | None) -> tuple[int | None, dict[str, Any]] | None:
    return (reserved[1].seed, dict(reserved[1].options)) if reserved is not None else None


def run_episodes(envs: Sequence[gym.Env], policy: Policy, specs: Sequence[EpisodeSpec], *,
                 on_episode: Callable[[Trajectory], None] | None = None) -> TrajectoryBatch:
    """Play every spec to the end on ``envs`` (in this process), keeping up to ``len(envs)`` episodes
    live at once, with one batched ``policy.act`` call per round. Trajectories come back in the
    order of ``specs``."""
    return RolloutEngine(LocalExecutor(envs)).run(policy, specs, on_episode=on_episode)
