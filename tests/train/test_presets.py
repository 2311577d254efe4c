import pytest

import agentrl
from agentrl.train.config import list_presets, load_config


def test_presets_ship_and_validate():
    assert {"quickstart", "grid-ppo", "router-quickstart"} <= set(list_presets())
    for name in list_presets():
        config = load_config(name)
        assert config.env.id in agentrl.list_envs()


def test_default_config_is_the_quickstart():
    config = load_config(None)
    assert config.env.id == "agentrl/Sokoban-v0" and config.policy.kind == "lm" and config.sft.episodes > 0


@pytest.mark.slow
def test_router_quickstart_runs_end_to_end(tmp_path):
    result = agentrl.train("router-quickstart", **{
        "policy": {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2}, "max_new_tokens": 40},
        "sft": {"episodes": 8, "steps": 2, "batch_size": 4},
        "rl": {"iterations": 1, "tasks_per_iteration": 2, "group_size": 2, "num_envs": 4},
        "eval": {"episodes": 2},
        "run": {"output_dir": str(tmp_path / "router"), "progress": False, "tensorboard": False},
    })
    record = result.metrics[-1]
    assert record["iteration"] == 1 and record["rollout/episodes"] == 4
