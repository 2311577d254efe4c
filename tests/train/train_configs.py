"""The tiny training run the train tests share: a 1-layer LM on 4-turn Sokoban, seconds per run.

Each test module layers its own budgets on top (``tiny_run_config(tmp_path, name, {...}, **sections)``):
a layer's section updates the base's section key by key; a non-mapping value replaces it.
"""

import copy
from typing import Any

BASE: dict[str, Any] = {
    "env": {"kwargs": {"max_turns": 4}},
    "policy": {"tiny": {"hidden_size": 32, "num_layers": 1, "num_heads": 2}, "context": "last",
               "system_prompt": False, "max_new_tokens": 5},
    "sft": {"episodes": 8, "batch_size": 8},
    "rl": {"tasks_per_iteration": 2, "group_size": 2, "num_envs": 4, "minibatch_size": 8},
    "eval": {},
    "run": {"progress": False},
}


def tiny_run_config(tmp_path, name: str = "run", *layers: dict[str, Any], **sections: Any) -> dict[str, Any]:
    config = copy.deepcopy(BASE)  # tests may edit what they get
    config["run"]["output_dir"] = str(tmp_path / name)
    for layer in (*layers, sections):
        for key, value in layer.items():
            config[key] = {**config.get(key, {}), **value} if isinstance(value, dict) else value
    return config
