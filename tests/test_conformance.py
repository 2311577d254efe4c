"""Every registered env passes Gymnasium's checker; new registrations are picked up automatically."""

import pytest
from gymnasium.utils.env_checker import check_env

import agentrl
from agentrl.core.env import STEP_INFO_KEYS
from agentrl.core.registry import MissingExtraError

#: Constructor kwargs that keep an env cheap to build in the conformance run.
FAST_KWARGS: dict[str, dict] = {}


def _make(env_id):
    try:
        return agentrl.make(env_id, **FAST_KWARGS.get(env_id, {}))
    except MissingExtraError as exc:  # CI installs every extra, so this only skips partial installs
        pytest.skip(str(exc))


@pytest.mark.parametrize("env_id", agentrl.list_envs())
def test_check_env(env_id):
    env = _make(env_id)
    try:
        check_env(env.unwrapped, skip_render_check=False)
    finally:
        env.close()


@pytest.mark.parametrize("env_id", agentrl.list_envs())
def test_standard_info_keys_and_malformed_action(env_id):
    env = _make(env_id)
    try:
        _, info = env.reset(seed=0)
        assert set(STEP_INFO_KEYS) <= set(info)
        observation, reward, terminated, truncated, info = env.step("\x00 definitely not an action }{")
        assert set(STEP_INFO_KEYS) <= set(info)
        assert info["action_valid"] is False
        assert "invalid" in agentrl.core.trajectory.observation_text(observation).lower()
        assert isinstance(info["reward_components"], dict)
    finally:
        env.close()
