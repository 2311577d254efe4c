"""The lean NLE step (``nle_step.LeanStep``) against the env's own ``step``: identical games."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("minihack")

from nle import nethack

from agentrl.envs.minihack.actions import parse_action
from agentrl.envs.minihack.engine import Engine, _engine_kwargs, _raw_step, build_engine_env
from agentrl.envs.minihack.nle_step import LeanStep, key_stepper, lean_step_supported

#: Moves, and keys that open prompts and windows: pick up, apply, open, kick, search, inventory,
#: look, Escape, yes/no, item letters, Return.
KEYS = [ord(c) for c in "hjklyubnhjklyubn,ao\x04si:\x1byngfd\r"]


def _pair(env_id: str, max_steps: int):
    kwargs = _engine_kwargs(env_id, max_steps, -0.01)
    return build_engine_env(env_id, kwargs), build_engine_env(env_id, kwargs)


def _play_both(env_id: str, episodes: int, steps: int, max_steps: int = 10_000, keys=KEYS) -> list[int]:
    """Play the same seeded key stream through the env's step and the lean step; return end statuses."""
    reference, lean_env = _pair(env_id, max_steps)
    assert lean_step_supported(lean_env)
    full, lean = _raw_step(reference), LeanStep(lean_env)
    rng = np.random.default_rng(7)
    endings = []
    try:
        for episode in range(episodes):
            for env in (reference, lean_env):
                env.seed(episode + 1, episode + 2, reseed=False, lgen=episode + 3)
                env.reset()
            for _ in range(steps):
                key = int(rng.choice(keys))
                _, reward, done, _, info = full(key)
                lean_reward, lean_done, end_status = lean(key)
                assert (lean_reward, lean_done) == (float(reward), done)
                assert end_status == (int(info["end_status"]) if done else 0)
                assert lean_env._steps == reference._steps
                for mine, theirs in zip(lean_env.last_observation, reference.last_observation, strict=True):
                    np.testing.assert_array_equal(mine, theirs)
                if done:
                    endings.append(end_status)
                    break
    finally:
        reference.close()
        lean_env.close()
    return endings


@pytest.mark.parametrize(
    "env_id",
    [
        "MiniHack-Room-Monster-5x5-v0",
        "MiniHack-KeyRoom-S5-v0",
        "MiniHack-River-v0",
        "MiniHack-Corridor-R2-v0",
    ],
)
def test_lean_step_plays_the_same_game_as_the_env_step(env_id):
    endings = _play_both(env_id, episodes=6, steps=150, max_steps=120)
    assert endings, "no episode ended: the endings were not compared"


def test_lean_step_matches_on_wins_and_step_limit_aborts():
    moves = [ord(c) for c in "hjklyubn"]
    endings = _play_both("MiniHack-Room-5x5-v0", episodes=20, steps=60, max_steps=40, keys=moves)
    win, aborted = 2, -1  # NetHackStaircase.StepStatus
    assert win in endings and aborted in endings


def test_lean_step_matches_on_deaths():
    endings = _play_both("MiniHack-River-Monster-v0", episodes=3, steps=400, max_steps=390)
    death = 1  # NetHackStaircase.StepStatus.DEATH
    assert death in endings


def test_lean_step_matches_the_nle_score_task():
    assert _play_both("NetHackScore-v0", episodes=1, steps=300) is not None


def test_tasks_with_a_reward_manager_keep_the_env_step():
    env = build_engine_env("MiniHack-Eat-v0", _engine_kwargs("MiniHack-Eat-v0", 100, 0.0))
    try:
        assert env.reward_manager is not None and not lean_step_supported(env)
        seen = []
        stepper = key_stepper(env, env.step, seen.append)
        assert not isinstance(stepper, LeanStep)
        env.reset()
        assert stepper(ord("s")) == (0.0, False, 0) and seen and "glyphs" in seen[-1]
    finally:
        env.close()


def test_engine_observation_follows_the_game_under_the_lean_step():
    engine = Engine("MiniHack-Room-5x5-v0", max_steps=100, penalty_step=0.0, options={})
    try:
        assert isinstance(engine._step, LeanStep)
        engine.reset((1, 2, 3))
        turn = engine.obs["blstats"][nethack.NLE_BL_TIME]
        engine.execute(parse_action("search"))
        assert engine.obs["blstats"][nethack.NLE_BL_TIME] == turn + 1
        assert engine.obs["blstats"] is engine.env.last_observation[engine.env._blstats_index]
    finally:
        engine.close()


def _play_both_as_shipped(env_id: str, episodes: int, steps: int) -> int:
    """The lean step against the env's own step with NLE's prompt handling on, as MiniHack ships the
    task (``--More--`` skipped, questions declined inside the step): the lean step's port of NLE's
    ``_perform_known_steps`` plays the same game. Returns how many ``--More--`` pages it saw."""
    kwargs = {**_engine_kwargs(env_id, 10_000, -0.01), "allow_all_yn_questions": False, "allow_all_modes": False}
    reference, lean_env = build_engine_env(env_id, kwargs), build_engine_env(env_id, kwargs)
    pages = []
    full, lean = _raw_step(reference), LeanStep(lean_env, on_page=pages.append)
    rng = np.random.default_rng(11)
    try:
        for episode in range(episodes):
            for env in (reference, lean_env):
                env.seed(episode + 1, episode + 2, reseed=False, lgen=episode + 3)
                env.reset()
            for _ in range(steps):
                key = int(rng.choice(KEYS))
                _, reward, done, _, _ = full(key)
                assert lean(key)[:2] == (float(reward), done)
                for mine, theirs in zip(lean_env.last_observation, reference.last_observation, strict=True):
                    np.testing.assert_array_equal(mine, theirs)
                if done:
                    break
    finally:
        reference.close()
        lean_env.close()
    return len(pages)


@pytest.mark.parametrize("env_id", ["MiniHack-KeyRoom-S5-v0", "MiniHack-Room-Monster-5x5-v0"])
def test_lean_step_matches_with_minihack_s_prompt_handling(env_id):
    assert _play_both_as_shipped(env_id, episodes=4, steps=150) > 0  # pages were skipped, and kept
