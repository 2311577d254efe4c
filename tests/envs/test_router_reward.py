"""Router-R1 reward parts worked by hand: answer normalisation, EM/F1, the rolling P5/P95 cost
normalisation, the total with alpha, and the same numbers coming out of the env."""

from __future__ import annotations

import pytest

from agentrl.envs.router.reward import (
    CostNormalizer,
    best_f1,
    call_cost,
    exact_match,
    normalize_answer,
    router_r1_reward,
    shared_cost_normalizer,
    token_f1,
)


def test_normalize_answer():
    assert normalize_answer("  The Eiffel-Tower, in PARIS!  ") == "eiffeltower in paris"
    assert normalize_answer("An apple a day") == "apple day"
    assert normalize_answer("theatre") == "theatre"  # articles only as whole words


def test_exact_match_against_any_golden_answer():
    assert exact_match("the United States.", ["USA", "United States"]) == 1.0
    assert exact_match("United States of America", ["United States"]) == 0.0
    assert exact_match("paris", "Paris") == 1.0


def test_f1_by_hand():
    # "the eiffel tower in paris" -> [eiffel, tower, in, paris]; golden "Eiffel Tower" -> [eiffel, tower]
    # common 2, precision 2/4, recall 2/2, F1 = 2 * 0.5 * 1 / 1.5 = 2/3
    assert token_f1("the Eiffel Tower in Paris", "Eiffel Tower") == pytest.approx(2 / 3)
    assert best_f1("Eiffel Tower in Paris", ["Louvre", "Eiffel Tower", "tower"]) == pytest.approx(2 / 3)
    assert token_f1("yes it is", "yes") == 0.0  # yes/no/noanswer must match exactly
    assert token_f1("no", "no") == 1.0
    assert token_f1("blue", "red") == 0.0


def test_call_cost_is_tokens_times_price_per_million():
    assert call_cost(120, 0.5) == 60.0  # 60 micro-dollars = $0.00006


def test_cost_normalisation_by_hand():
    norm = CostNormalizer(window=1000)
    # window [0]: one value, min = max -> degenerate spread -> 0.5
    assert norm.normalize(0.0) == 0.5
    # sqrt(4) = 2, window [0, 2]: P5 = 0.1, P95 = 1.9 -> (2 - 0.1) / 1.8 > 1 -> clipped -> 1 - 1 = 0
    assert norm.normalize(4.0) == 0.0
    # sqrt(16) = 4, window [0, 2, 4]: P5 = 0.2, P95 = 3.8 -> (4 - 0.2) / 3.6 > 1 -> 0
    assert norm.normalize(16.0) == 0.0
    # sqrt(1) = 1, window sorted [0, 1, 2, 4]: P5 = 0.15, P95 = 2 + 0.85 * 2 = 3.7
    # 1 - (1 - 0.15) / (3.7 - 0.15) = 1 - 0.85 / 3.55 = 0.760563...
    assert norm.normalize(1.0) == pytest.approx(1 - 0.85 / 3.55)
    # window sorted [0, 1, 1, 2, 4]: P5 = 0.05 x 4 = rank 0.2 -> 0.2; P95 = rank 3.8 -> 2 + 0.8 x 2 = 3.6
    assert norm.normalize(1.0) == pytest.approx(1 - (1 - 0.2) / (3.6 - 0.2))


def test_cost_window_rolls_and_degenerate_spread_is_half():
    norm = CostNormalizer(window=2)
    norm.normalize(0.0)
    assert norm.normalize(100.0) == 0.0  # window [0, 10]: P5 0.5, P95 9.5, value 10 -> clipped
    # window [10, 5] (the 0 fell out): P5 = 5.25, P95 = 9.75, value 5 is below P5 -> 1 - 0 = 1
    assert norm.normalize(25.0) == 1.0
    same = CostNormalizer()
    assert [same.normalize(9.0) for _ in range(3)] == [0.5, 0.5, 0.5]
    with pytest.raises(ValueError):
        same.normalize(-1.0)
    with pytest.raises(ValueError):
        CostNormalizer(quantiles=(0.9, 0.1))


def test_shared_windows_are_shared_by_name():
    a = shared_cost_normalizer("test-shared-x", 10, (0.05, 0.95))
    assert shared_cost_normalizer("test-shared-x", 10, (0.05, 0.95)) is a
    assert shared_cost_normalizer("test-shared-y", 10, (0.05, 0.95)) is not a


@pytest.mark.parametrize(
    "format_reward, outcome, cost, alpha, expected",
    [
        (0.0, 1.0, 0.760563, 0.3, 0.7 * 1.0 + 0.3 * 0.760563),   # right answer: (1 - a) o + a k
        (0.0, 2 / 3, 0.5, 0.3, 0.7 * 2 / 3 + 0.3 * 0.5),          # F1 outcome: 0.466667 + 0.15
        (0.0, 1.0, 1.0, 0.0, 1.0),                                # Router-R1's released alpha = 0
        (0.0, 1.0, 0.0, 1.0, 0.0),                                # alpha = 1: cost only
        (0.0, 0.0, 1.0, 0.3, 0.0),                                # wrong answer: no cost credit
        (-1.0, 1.0, 1.0, 0.3, -1.0),                              # format failure voids the rest
        (-1.0, 0.0, 0.2, 0.9, -1.0),
    ],
)
def test_total_reward_by_hand(format_reward, outcome, cost, alpha, expected):
    reward = router_r1_reward(format_reward, outcome, cost, alpha)
    assert reward.total == pytest.approx(expected)
    assert sum(reward.components().values()) == pytest.approx(reward.total)


def test_alpha_outside_unit_interval_is_rejected():
    with pytest.raises(ValueError, match="alpha"):
        router_r1_reward(0.0, 1.0, 0.5, 1.5)


def test_env_reward_matches_the_hand_computation(tmp_path):
    """Three episodes in one env, so the rolling window is known exactly."""
    from agentrl.envs.router.env import RouterEnv

    replay = tmp_path / "replay.jsonl"
    replay.write_text(
        '{"model": "beta", "query": "Capital of France?", "response": "Answer: Paris", "completion_tokens": 4}\n'
        '{"model": "alpha", "query": "Capital of France?", "response": "Answer: Paris", "completion_tokens": 8}\n',
        encoding="utf-8")
    pool = [{"name": "alpha", "price_per_1m": 2.0}, {"name": "beta", "price_per_1m": 1.0}]
    env = RouterEnv(pool=pool, backend="replay", replay_files=[str(replay)], alpha=0.3, shared_cost_window=None,
                    protocol="chat")
    task = {"question": "Capital of France?", "golden_answers": ["Paris"]}

    def play(model: str | None):
        env.reset(seed=0, options={"task": task})
        if model:
            env.step(f"<think>ask</think><search> {model}: Capital of France? </search>")
        return env.step("<think>done</think><answer>Paris</answer>")

    # beta: c = 4 x 1.0 = 4, sqrt 2, window [2] -> 0.5; reward 0.7 + 0.3 x 0.5 = 0.85
    _, reward, terminated, _, info = play("beta")
    assert terminated and info["cost"] == 4.0 and info["normalized_cost"] == 0.5
    assert reward == pytest.approx(0.85)
    assert info["reward_components"] == pytest.approx({"format": 0.0, "outcome": 0.7, "cost": 0.15})
    # alpha: c = 8 x 2.0 = 16, sqrt 4, window [2, 4]: P5 2.1, P95 3.9 -> clipped -> 0; reward 0.7
    _, reward, _, _, info = play("alpha")
    assert (info["cost"], info["normalized_cost"], reward) == (16.0, 0.0, pytest.approx(0.7))
    # no call: c = 0, window [2, 4, 0]: P5 0.2, P95 3.8, value 0 below P5 -> 1; reward 0.7 + 0.3 = 1.0
    _, reward, _, _, info = play(None)
    assert (info["cost"], info["normalized_cost"], reward) == (0.0, 1.0, pytest.approx(1.0))
    assert info["em"] == 1.0 and info["success"] and info["num_calls"] == 0
    env.close()
