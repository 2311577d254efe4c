import sys
import textwrap

import gymnasium as gym
import pytest

import agentrl
from agentrl.core import registry
from agentrl.core.env import TextEnv, Transition


class CounterEnv(TextEnv):
    """Say 'inc' three times."""

    def reset_state(self, seed, options):
        self.count = 0

    def step_action(self, action):
        if action != "inc":
            return Transition(valid=False, message="say inc")
        self.count += 1
        return Transition(reward_components={"inc": 1.0}, terminated=self.count >= 3)

    def render_text(self):
        return f"count={self.count}"


def test_gymnasium_and_agentrl_make_the_same_env():
    assert type(gym.make("agentrl/Sokoban-v0").unwrapped) is type(agentrl.make("agentrl/Sokoban-v0").unwrapped)
    assert type(agentrl.make("Sokoban-v0").unwrapped).__name__ == "SokobanEnv"


def test_unknown_id_names_closest_ids():
    with pytest.raises(registry.UnknownEnvError) as info:
        agentrl.make("agentrl/Sokobam-v0")
    assert "agentrl/Sokoban-v0" in str(info.value) and "Did you mean" in str(info.value)
    assert isinstance(info.value, KeyError)


def test_user_registration_with_defaults():
    env_id = agentrl.register("Counter-v0", CounterEnv, description="count", max_turns=2)
    assert env_id == "agentrl/Counter-v0" and env_id in agentrl.list_envs()
    env = agentrl.make(env_id)
    env.reset(seed=0)
    _, reward, terminated, truncated, _ = env.step("<answer>inc</answer>")
    assert reward == 1.0 and not terminated
    _, _, terminated, truncated, _ = env.step("<answer>inc</answer>")
    assert truncated and not terminated  # max_turns=2 default reached before the third inc


def test_string_entry_point_must_name_module_and_class():
    with pytest.raises(ValueError, match="module:ClassName"):
        agentrl.register("Bad-v0", "not_a_path")


def test_entry_point_plugins_register_on_discovery(tmp_path, monkeypatch):
    package = tmp_path / "myplugin"
    package.mkdir()
    (package / "__init__.py").write_text(textwrap.dedent('''
        import agentrl
        from agentrl.core.env import TextEnv, Transition

        class PluginEnv(TextEnv):
            def reset_state(self, seed, options):
                pass
            def step_action(self, action):
                return Transition(terminated=True)
            def render_text(self):
                return "plugin"

        def register():
            agentrl.register("Plugin-v0", "myplugin:PluginEnv", description="from a plugin")
    '''))
    dist = tmp_path / "myplugin-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: myplugin\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[agentrl.envs]\nplugin = myplugin:register\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry.reload_plugins()
    assert "agentrl/Plugin-v0" in agentrl.list_envs()
    assert registry.env_entry("Plugin-v0").description == "from a plugin"
    assert type(agentrl.make("Plugin-v0").unwrapped).__name__ == "PluginEnv"
    sys.modules.pop("myplugin", None)


def test_missing_extra_gives_install_hint(monkeypatch):
    agentrl.register("NeedsExtra-v0", "agentrl_missing_module_xyz:Env", extra="webshop")
    with pytest.raises(registry.MissingExtraError, match=r"pip install 'agentrl\[webshop\]'"):
        agentrl.make("NeedsExtra-v0")
