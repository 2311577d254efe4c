"""Code in the docs is run, so the guides stay true."""

import re
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parent.parent / "docs"


def python_blocks(name: str) -> list[str]:
    return re.findall(r"```python\n(.*?)```", (DOCS / name).read_text(), flags=re.DOTALL)


def test_add_your_own_environment_guide_runs(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in python_blocks("custom_env.md"):
        exec(compile(block, "docs/custom_env.md", "exec"), namespace)
    printed = capsys.readouterr().out
    assert "25: lower\nThe number is between 1 and 24." in printed
    assert "{'found': 0.0, 'step': -0.05, 'format': 0.0}" in printed
    assert "\n1.0\n" in printed
    assert (tmp_path / "runs/guess/learning_curves.png").exists()
    assert namespace["result"].metrics[-1]["iteration"] == 2


@pytest.mark.parametrize("env_id", ["agentrl/GuessNumber-v0"])
def test_guide_env_passes_conformance(env_id, tmp_path, monkeypatch):
    import agentrl
    from agentrl.core import check_text_env
    from agentrl.core.check import check_public_hooks

    namespace: dict = {}
    exec(compile(python_blocks("custom_env.md")[0], "docs/custom_env.md", "exec"), namespace)
    env = agentrl.make(env_id)
    check_text_env(env)  # public hooks only, documented reward range, and every other promise
    check_public_hooks(env)
    assert env.unwrapped.reward_bounds().finite
