"""Every registered env keeps the TextEnv contract: ``check_text_env`` over the whole registry.

The registry is the one list of envs: a new registration is checked here without editing this file.
Each env is driven by random, invalid-flood, repeat-one-action and expert action streams, and every
turn's and episode's reward must lie in the env's documented ``reward_bounds()``.
"""

import math

import pytest

import agentrl
from agentrl.core.check import check_public_hooks, check_reward_bounds, check_text_env, default_streams, expert_stream
from agentrl.core.registry import MissingExtraError

#: Constructor kwargs that keep an env cheap to build and play in the conformance run.
FAST_KWARGS: dict[str, dict] = {
    "agentrl/SWE-v0": {"max_turns": 4},
    "agentrl/MiniHack-v0": {"max_turns": 20},
}


def _make(env_id):
    try:
        return agentrl.make(env_id, **FAST_KWARGS.get(env_id, {}))
    except MissingExtraError as exc:  # CI installs every extra, so this only skips partial installs
        pytest.skip(str(exc))


@pytest.mark.parametrize("env_id", agentrl.list_envs())
def test_check_text_env(env_id):
    env = _make(env_id)
    try:
        check_text_env(env)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", agentrl.list_envs())
def test_reward_bounds_are_documented_and_finite(env_id):
    env = _make(env_id)
    try:
        env.reset(seed=0)
        bounds = env.unwrapped.reward_bounds()
        assert bounds.finite, f"{env_id} must document a finite reward range per turn and per episode"
        assert (env.unwrapped.reward_bounds.__doc__ or "").strip(), "reward_bounds() must say how the range arises"
    finally:
        env.close()


@pytest.mark.parametrize("env_id", agentrl.list_envs())
def test_success_means_the_task_was_done(env_id):
    """Across random, invalid, repeated and expert play, ``success`` comes with ``progress == 1``."""
    env = _make(env_id)
    try:
        for stream in default_streams(1, env):
            observation, info = env.reset(seed=3)
            done, turn = False, 0
            while not done:
                observation, _, terminated, truncated, info = env.step(stream(observation, info, turn))
                done, turn = terminated or truncated, turn + 1
            if info["success"]:
                assert math.isclose(info["progress"], 1.0), f"{env_id}: success with progress {info['progress']}"
    finally:
        env.close()


def test_a_private_override_is_reported():
    from agentrl.core import TextEnv
    from agentrl.core.check import ContractError

    class Sneaky(agentrl.envs.sokoban.SokobanEnv):
        def _end_turn(self, outcome):  # noqa: D401 - the point of the test
            return super()._end_turn(outcome)

    with pytest.raises(ContractError, match="_end_turn"):
        check_public_hooks(Sneaky())
    assert issubclass(Sneaky, TextEnv)


def test_reward_outside_the_documented_range_is_reported():
    from agentrl.core.check import ContractError
    from agentrl.core.env import RewardBounds

    class Overpaying(agentrl.envs.sokoban.SokobanEnv):
        def reward_bounds(self):
            """Claims rewards never exceed zero, which is false for a solved level."""
            return RewardBounds(step=(-5.0, 0.0), episode=(-50.0, 0.0))

    env = Overpaying()
    with pytest.raises(ContractError, match="outside the documented range"):
        check_reward_bounds(env, [expert_stream(env)])
