"""The scripted WebShop expert: a baseline that scores >= 0.75 on the generated test goals."""

from __future__ import annotations

import pytest

pytest.importorskip("bm25s")
pytest.importorskip("rapidfuzz")

import agentrl  # noqa: E402
from agentrl.rollout import EpisodeSpec, run_episodes  # noqa: E402
from agentrl.envs.webshop.expert import RandomShopper, WebShopExpert, parse_instruction, visible_strings  # noqa: E402
from agentrl.envs.webshop.tagger import installed_spacy_model  # noqa: E402


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("webshop-cache"))


def play(policy, cache_dir, goals, **env_kwargs):
    envs = [
        agentrl.make("agentrl/WebShop-v0", split="test", cache_dir=cache_dir, **env_kwargs) for _ in range(4)
    ]
    specs = [EpisodeSpec(seed=i, options={"goal_index": i}) for i in goals]
    return run_episodes(envs, policy, specs)


def test_parse_instruction():
    goal = parse_instruction(
        "i need organic green tea with flavor name: mint, and size: 20 count, "
        "and price lower than 30.00 dollars"
    )
    assert (goal.keywords, goal.options, goal.price_upper) == (
        "i need organic green tea",
        ["mint", "20 count"],
        30.0,
    )
    plain = parse_instruction("a mug with a handle")
    assert (plain.keywords, plain.options, plain.price_upper) == ("a mug with a handle", [], None)


def test_visible_strings_agree_across_observation_modes(cache_dir):
    pages = []
    for mode in ("text", "sep", "text_rich", "html"):
        env = agentrl.make("agentrl/WebShop-v0", observation_mode=mode, cache_dir=cache_dir)
        env.reset(seed=0)
        observation, *_ = env.step("search[office chair]")
        pages.append(visible_strings(observation))
    assert pages[0] == pages[1] == pages[2] == pages[3]
    assert pages[0][:4] == [
        "Instruction:",
        env.unwrapped.goal["instruction_text"],
        "Back to Search",
        "Page 1 (Total results: 50)",
    ]


@pytest.mark.slow
@pytest.mark.skipif(installed_spacy_model() is None, reason="spaCy with an English pipeline is not installed")
def test_expert_scores_at_least_075_on_all_test_goals_random_far_lower(cache_dir):
    expert = play(WebShopExpert(), cache_dir, range(500))
    random_clicks = play(RandomShopper(seed=0), cache_dir, range(500))
    expert_score = expert.summary()["mean_outcome"]
    random_score = random_clicks.summary()["mean_outcome"]
    assert expert_score >= 0.75
    assert random_score <= expert_score - 0.4
    assert expert.summary()["invalid_action_rate"] == 0.0 and expert.summary()["truncation_rate"] == 0.0
    assert all(t.turns[-1].info["reward_info"]["tagger"].startswith("spacy") for t in expert)


def test_expert_with_the_heuristic_title_tagger(cache_dir):
    batch = play(WebShopExpert(), cache_dir, range(0, 500, 5), title_tagger="heuristic")
    assert batch.summary()["mean_outcome"] >= 0.75
    assert batch[0].turns[-1].info["reward_info"]["tagger"] == "heuristic"


def test_expert_is_the_envs_built_in_policy(cache_dir):
    from agentrl.eval.evaluate import evaluate

    result = evaluate(
        "agentrl/WebShop-v0",
        "expert",
        episodes=20,
        num_envs=4,
        env_kwargs={"split": "test", "cache_dir": cache_dir, "title_tagger": "heuristic"},
    )
    assert result["summary"]["mean_outcome"] >= 0.75
    assert result["summary"]["success_rate"] > 0.3
