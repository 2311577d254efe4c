"""The paper's evaluation protocol: each fixed test goal once, in order (``agentrl eval --split test``)."""

from __future__ import annotations

import json

import pytest

pytest.importorskip("bm25s")
pytest.importorskip("rapidfuzz")

import agentrl  # noqa: E402
from agentrl.cli import main  # noqa: E402
from agentrl.eval.evaluate import evaluate  # noqa: E402


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("webshop-cache"))


def test_evaluation_tasks_are_the_fixed_goals_in_order(cache_dir):
    env = agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir)
    base = env.unwrapped
    test = base.evaluation_tasks("test")
    assert test == [{"split": "test", "goal_index": i} for i in range(500)]
    assert base.evaluation_tasks("eval") == [{"split": "eval", "goal_index": i} for i in range(1000)]
    assert base.evaluation_tasks("train") is None and base.evaluation_tasks("dev") is None
    assert base.evaluation_splits() == ["test", "eval"]
    # each task resets to its own goal, whatever the env's configured split and seed
    _, info = env.reset(seed=123, options=test[41])
    assert info["task_id"] == "webshop-test-41"
    assert base.goal == base.shop.goals.goals[base.shop.goals.order[41]]


def test_evaluate_plays_each_test_goal_once_in_order(cache_dir):
    result = evaluate("agentrl/WebShop-v0", "expert", split="test", episodes=12, num_envs=4,
                      env_kwargs={"cache_dir": cache_dir})
    assert [e["task_id"] for e in result["episodes"]] == [f"webshop-test-{i}" for i in range(12)]
    assert result["split"] == "test" and result["summary"]["episodes"] == 12
    outcomes = [e["outcome"] for e in result["episodes"]]
    assert result["summary"]["mean_outcome"] == pytest.approx(sum(outcomes) / 12)
    assert result["summary"]["success_rate"] == pytest.approx(sum(o == 1.0 for o in outcomes) / 12)


def test_eval_cli_split_runs_the_protocol_and_prints_the_score(tmp_path, capsys, cache_dir):
    path = tmp_path / "webshop.json"
    assert main(["eval", "--env", "agentrl/WebShop-v0", "--split", "test", "--episodes", "5", "--policy", "expert",
                 "--env-arg", f"cache_dir={cache_dir}", "--out", str(path)]) == 0
    result = json.loads(path.read_text())
    assert [e["task_id"] for e in result["episodes"]] == [f"webshop-test-{i}" for i in range(5)]
    out = capsys.readouterr().out
    assert "score" in out and f"{result['summary']['mean_outcome']:.3f}" in out


def test_unknown_split_is_a_clear_error_listing_the_splits(capsys, cache_dir):
    assert main(["eval", "--env", "agentrl/WebShop-v0", "--split", "dev", "--env-arg", f"cache_dir={cache_dir}"]) == 2
    assert "agentrl/WebShop-v0 has no evaluation split 'dev'; its splits: test, eval" in capsys.readouterr().err
    assert main(["eval", "--env", "agentrl/Sokoban-v0", "--split", "test"]) == 2
    assert "it has no fixed evaluation splits" in capsys.readouterr().err
