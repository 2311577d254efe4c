"""The rollout engine's waves (``rollout.waves``): the policy chooses one wave's actions while another
wave's env steps run; in order the play is reproducible, out of order (the asynchronous actors) a
straggling step holds up only its own wave."""

from __future__ import annotations

import threading
import time

import pytest
from countdown_env import CountdownEnv

from agentrl.core.policy import ActionOutput
from agentrl.rollout import (
    AsyncRollouts,
    LocalExecutor,
    RolloutEngine,
    SpecQueue,
    VersionedPolicy,
    grouped_specs,
)
from agentrl.train.config import load_config


class ProbeEnv(CountdownEnv):
    """Each episode lasts ``seed % 3 + 1`` turns; ``hook(env)`` runs inside every step (the test's
    hold on the env's I/O)."""

    hook = staticmethod(lambda env: None)

    def turns_for(self, seed):
        return seed % 3 + 1

    def step_action(self, action):
        self.action = action  # "call-position" from CountingPolicy
        return super().step_action(action)

    def before_step(self):
        type(self).hook(self)


class CountingPolicy:
    """Acts ``call-position``: every action names its policy call and its place in it, so two plays
    match only if their policy calls had the same inputs in the same order."""

    def __init__(self):
        self.calls: list[list[int]] = []
        self.lock = threading.Lock()

    def act(self, inputs):
        with self.lock:
            self.calls.append([item.episode_key for item in inputs])
            call = len(self.calls)
        return [ActionOutput(f"{call}-{k}") for k in range(len(inputs))]


def _engine(num_envs: int, waves: int, threads: int | None = None) -> RolloutEngine:
    envs = [ProbeEnv(max_turns=10) for _ in range(num_envs)]
    return RolloutEngine(LocalExecutor(envs, threads or num_envs), waves)


@pytest.fixture(autouse=True)
def no_hook():
    yield
    ProbeEnv.hook = staticmethod(lambda env: None)


def test_waves_play_every_spec_in_spec_order_and_reproducibly():
    specs = grouped_specs(range(10), 1)
    plays = [_engine(4, waves=2).run(policy, specs) for policy in (CountingPolicy(), CountingPolicy())]
    lock_step = _engine(4, waves=1).run(CountingPolicy(), specs)
    for play in plays:
        assert [t.info["seed"] for t in play] == list(range(10))
        assert [len(t.turns) for t in play] == [seed % 3 + 1 for seed in range(10)] == [len(t.turns) for t in lock_step]
    assert [[turn.action for turn in t.turns] for t in plays[0]] == [[turn.action for turn in t.turns] for t in plays[1]]
    # Waves change how actions are batched: the first call covers every slot, later ones one wave.
    assert [[turn.action for turn in t.turns] for t in plays[0]] != [[turn.action for turn in t.turns] for t in lock_step]


def test_policy_call_sizes_follow_the_waves():
    policy = CountingPolicy()
    batch = _engine(4, waves=2).run(policy, grouped_specs([2, 5, 8, 11], 1))  # every episode lasts 3 turns
    assert [len(call) for call in policy.calls] == [2] * 6  # 3 turns, each a call per wave
    assert batch.metrics["rollout/policy_calls"] == 6 and batch.metrics["rollout/policy_inputs"] == 12


@pytest.mark.parametrize("waves", [1, 2])
def test_the_policy_acts_while_another_wave_steps(waves):
    """Each step waits on I/O until a policy call later than the one that chose its action has
    happened (or 1 s passes). With waves, the policy acts for the other wave while this step waits; a
    lock-step round never calls it before every step has returned. (Waiting for a call rather than
    sleeping keeps the test independent of when the threads get scheduled.)"""
    acted = threading.Condition()
    calls = [0]
    overlapped: list[bool] = []  # per step: did a later policy call come while it waited?

    def io_until_the_policy_acts_again(env):
        chosen_by = int(str(env.action).split("-")[0])
        with acted:
            overlapped.append(acted.wait_for(lambda: calls[0] > chosen_by, timeout=1.0))

    class Watcher(CountingPolicy):
        def act(self, inputs):
            with acted:
                calls[0] += 1
                acted.notify_all()
            return super().act(inputs)

    ProbeEnv.hook = staticmethod(io_until_the_policy_acts_again)
    _engine(4, waves=waves).run(Watcher(), grouped_specs([2, 5, 8, 11], 1))
    assert calls[0] == 3 * waves and len(overlapped) == 12
    assert any(overlapped) == (waves == 2)


def test_a_straggling_step_holds_up_only_its_own_wave_out_of_order():
    """Out of order (as the asynchronous actors play), while seed 0's step hangs the other slots
    finish episodes and start new ones; in order, the next turn waits for the straggler's wave."""
    for in_order in (False, True):
        release = threading.Event()
        finished: list[int] = []

        def hang_seed_zero(env):
            if env.seed_played == 0:
                release.wait(timeout=2.0)

        def sink(key, trajectory):
            finished.append(trajectory.info["seed"])
            if len(finished) >= 6:
                release.set()

        ProbeEnv.hook = staticmethod(hang_seed_zero)
        engine = _engine(4, waves=4)
        engine.play(CountingPolicy(), SpecQueue(list(enumerate(grouped_specs(range(12), 1)))), sink, in_order=in_order)
        assert sorted(finished) == list(range(12))
        if in_order:
            assert finished.index(0) < 6  # nothing else moved until the hang timed out
        else:
            assert release.is_set() and finished.index(0) >= 5  # six others ended while seed 0 hung


def test_async_actors_keep_other_slots_busy_while_one_episode_straggles():
    """The learner gets two batches of complete groups while the first task's episode hangs; its group
    comes in a later batch."""
    release = threading.Event()

    def hang_seed_three(env):
        if env.seed_played == 3:
            release.wait(timeout=30)

    ProbeEnv.hook = staticmethod(hang_seed_three)
    acting = VersionedPolicy(CountingPolicy())
    stream = AsyncRollouts(_engine(4, waves=4), acting, lambda i: grouped_specs(range(3 * i, 3 * i + 3), 1),
                           first_iteration=1, max_staleness=3).start()
    try:
        served = []
        for version in range(2):
            batch = stream.next_batch(version, timeout=20)
            served += [t.info["seed"] for t in batch]
            acting.publish(lambda: None, version + 1)
        assert 3 not in served and len(served) == 6 and not release.is_set()
        release.set()
        later = [t.info["seed"] for t in stream.next_batch(2, timeout=20)]
        later += [t.info["seed"] for t in stream.next_batch(2, timeout=20)]
        assert 3 in later
    finally:
        release.set()
        stream.close()


def test_waves_are_checked():
    with pytest.raises(ValueError, match="between 1 and the number of env slots"):
        _engine(2, waves=3)
    with pytest.raises(ValueError, match="cannot exceed rl.num_envs"):
        load_config(None, {"rl": {"num_envs": 2}, "rollout": {"waves": 3}})
    with pytest.raises(ValueError, match="rollout.waves"):
        load_config(None, {"rollout": {"waves": 0}})
