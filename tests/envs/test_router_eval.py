"""``agentrl router-eval``: the offline default puts the oracle above every single model and kNN
between them; an API model and any policy can be the router; outputs are written."""

from __future__ import annotations

import json

import pytest

from agentrl.cli import main
from agentrl.envs.router.baselines import KNNRouter, ProbeTable, RouteThenAnswer, fixed, uniform_random
from agentrl.eval.router_eval import RouterScore, front_checks, pareto_front, router_eval
from agentrl.serving import OpenAICompatServer


def scored(name, em, cost):
    return RouterScore(name, em, em, cost, cost / 1000, 1.0, 1.0, em)


def test_pareto_front_and_checks_by_hand():
    scores = [scored("single:a", 0.4, 1.0), scored("single:b", 0.8, 30.0), scored("single:c", 0.3, 2.0),
              scored("oracle", 0.97, 1.5), scored("knn", 0.88, 6.0), scored("random", 0.5, 8.0)]
    assert pareto_front(scores) == ["single:a", "oracle"]
    checks = front_checks(scores)
    assert checks["oracle_above_every_single_model"] and checks["oracle_on_pareto_front"]
    assert checks["best_single_em_at_knn_cost"] == 0.4 and checks["knn_between_single_front_and_oracle"]
    worse = front_checks([scored("single:a", 0.9, 1.0), scored("oracle", 0.85, 0.5), scored("knn", 0.95, 2.0)])
    assert not worse["oracle_above_every_single_model"] and not worse["knn_between_single_front_and_oracle"]


def test_knn_router_votes_with_neighbours():
    # two clusters on a line; model x is right near 0, model y near 10; y costs more
    questions = ["0", "1", "2", "9", "10", "11"]
    quality = [[1, 0], [1, 0], [1, 1], [0, 1], [0, 1], [1, 1]]
    cost = [[1, 5]] * 6
    import numpy as np

    def embed(texts):
        values = np.array([[float(t), 1.0] for t in texts])
        return values / np.linalg.norm(values, axis=1, keepdims=True)

    table = ProbeTable(questions, ["x", "y"], np.array(quality, float), np.array(cost, float))
    knn = KNNRouter(table, embed, k=3, cost_weight=0.1)
    assert knn("0.5") == "x" and knn("10.5") == "y"
    # leave-one-out: the query itself is skipped, so its nearest other question ("1") decides
    loo = KNNRouter(table, embed, k=1, exclude_self=True)
    assert loo("0") == "x"
    with pytest.raises(ValueError):
        KNNRouter(table, embed, k=0)


def test_random_router_is_deterministic_per_question():
    choose = uniform_random(["a", "b", "c"], seed=3)
    picks = [choose(f"q{i}") for i in range(60)]
    assert picks == [choose(f"q{i}") for i in range(60)] and set(picks) == {"a", "b", "c"}


@pytest.mark.slow
def test_offline_default_oracle_above_singles_and_knn_between(tmp_path):
    result = router_eval(episodes=150, out_dir=str(tmp_path))
    routers = {r["router"]: r for r in result["routers"]}
    singles = [r for name, r in routers.items() if name.startswith("single:")]
    assert len(singles) == 5
    oracle, knn = routers["oracle"], routers["knn"]
    assert all(oracle["em"] > s["em"] for s in singles)
    assert oracle["cost"] < max(s["cost"] for s in singles)
    best_single_at_knn_cost = max(s["em"] for s in singles if s["cost"] <= knn["cost"])
    assert best_single_at_knn_cost < knn["em"] < oracle["em"]
    assert result["checks"] == {"oracle_above_every_single_model": True, "oracle_on_pareto_front": True,
                                "knn_between_single_front_and_oracle": True,
                                "best_single_em_at_knn_cost": best_single_at_knn_cost}
    assert routers["cheapest"]["em"] == routers["single:arith-1b"]["em"]
    assert routers["most-expensive"]["cost"] == routers["single:general-70b"]["cost"]
    assert all(r["calls_per_question"] == 1.0 and r["format_ok"] == 1.0 for r in routers.values())
    saved = json.loads((tmp_path / "router_eval.json").read_text())
    assert saved["checks"] == result["checks"] and (tmp_path / "pareto.png").stat().st_size > 10_000
    assert "oracle" in saved["pareto_front"]


def api_router(model, messages, params):
    """An 'API model' acting as a router: always consults general-70b, then copies its answer."""
    last = messages[-1]["content"]
    if last.startswith("Question:"):
        question = last.removeprefix("Question:").strip()
        return f"<think>ask the big one</think><search> general-70b: {question} </search>"
    answer = last.split("Answer:")[-1].split("</information>")[0].strip()
    return f"<think>copy</think><answer>{answer}</answer>"


def test_api_model_and_a_policy_object_as_routers(tmp_path):
    with OpenAICompatServer(api_router) as server:
        result = router_eval(
            episodes=12, baselines=["single"], out_dir=str(tmp_path), num_envs=4,
            policies={"api-router": f"api:router-llm@{server.base_url}",
                      "fixed-general": RouteThenAnswer(fixed("general-70b"))},
        )
        assert server.requests_served == 24  # two turns per question
    routers = {r["router"]: r for r in result["routers"]}
    assert routers["api-router"]["em"] == routers["fixed-general"]["em"] == routers["single:general-70b"]["em"]
    assert routers["api-router"]["cost"] == routers["single:general-70b"]["cost"] > 0


def test_cli_writes_outputs_and_rejects_bad_baselines(tmp_path, capsys):
    out = tmp_path / "eval"
    assert main(["router-eval", "--episodes", "6", "--baselines", "single", "oracle", "random",
                 "--out-dir", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "oracle" in printed and "EM" in printed and "$/1k q" in printed
    assert (out / "router_eval.json").exists() and (out / "pareto.png").exists()
    assert main(["router-eval", "--baselines", "bogus", "--out-dir", str(out)]) == 2
    assert "single, random" in capsys.readouterr().err
