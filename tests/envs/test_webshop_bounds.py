"""WebShop-v0 on the TextEnv contract: ``check_text_env``, the documented reward range, and
adversarial action streams that try to earn reward without doing the task."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("bm25s")
pytest.importorskip("rapidfuzz")

import agentrl  # noqa: E402
from agentrl.core.check import check_reward_bounds, check_text_env, default_streams, expert_stream, play  # noqa: E402
from agentrl.envs.webshop.render import OBSERVATION_MODES  # noqa: E402

ASIN = re.compile(r"click\[([A-Z0-9]{10})\]")
NAVIGATION = {"click[Back to Search]", "click[< Prev]", "click[Next >]", "click[Description]", "click[Features]",
              "click[Reviews]", "click[Attributes]", "click[Buy Now]", "search[<keywords>]"}


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("webshop-cache"))


def answer(action):
    return f"<answer>{action}</answer>"


def option_clicks(info):
    return [a for a in info["available_actions"] if a not in NAVIGATION and not ASIN.fullmatch(a)]


def first_product_then(after_item):
    """Search the instruction, open the first hit, then ``after_item(info, turn)`` on the item page."""

    def stream(observation, info, turn):
        actions = info["available_actions"]
        if actions == ["search[<keywords>]"]:
            return answer(f"search[{info['instruction']}]")
        if "click[Buy Now]" in actions:
            return after_item(info, turn)
        asins = ASIN.findall(" ".join(actions))
        return answer(f"click[{asins[0]}]" if asins else "click[Back to Search]")

    return stream


def buy_immediately(observation, info, turn):
    return first_product_then(lambda info, turn: answer("click[Buy Now]"))(observation, info, turn)


def repeat_the_rewarded_click(observation, info, turn):
    """Click one option over and over (the click that reaches 'select the goal options'), then buy
    several times in one turn."""
    def on_item(info, turn):
        options = option_clicks(info)
        if options and turn < 10:
            return answer(options[0])
        return "<answer>click[Buy Now]||click[Buy Now]||click[Buy Now]</answer>"

    return first_product_then(on_item)(observation, info, turn)


def flood_then_buy(observation, info, turn):
    """Invalid actions for ten turns, then the quickest purchase."""
    if turn < 10:
        return answer("click[the perfect product]") if turn % 2 else "buy the best one now!!"
    return buy_immediately(observation, info, turn)


def buy_every_option(observation, info, turn):
    """Click every option value of every group (options the goal never asked for), then buy."""
    clicked = buy_every_option.clicked
    if turn == 0:
        clicked.clear()

    def on_item(info, turn):
        remaining = [a for a in option_clicks(info) if a not in clicked]
        if remaining:
            clicked.add(remaining[0])
            return answer(remaining[0])
        return answer("click[Buy Now]")

    return first_product_then(on_item)(observation, info, turn)


buy_every_option.clicked = set()
STREAMS = [buy_immediately, repeat_the_rewarded_click, flood_then_buy, buy_every_option]


def test_check_text_env_passes_with_default_kwargs():
    check_text_env(agentrl.make("agentrl/WebShop-v0"))


@pytest.mark.parametrize("mode", [m for m in OBSERVATION_MODES if m != "text"])
def test_check_text_env_passes_in_every_observation_mode(mode, cache_dir):
    check_text_env(agentrl.make("agentrl/WebShop-v0", observation_mode=mode, cache_dir=cache_dir),
                   gymnasium_checks=False)


def test_reward_bounds_follow_the_config(cache_dir):
    env = agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir, max_turns=12, format_penalty=-0.25)
    bounds = env.unwrapped.reward_bounds()
    assert bounds.step == (-0.25, 1.0) and bounds.episode == (-3.0, 1.0)
    assert "format_penalty" in env.unwrapped.reward_bounds.__doc__
    upstream = agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir, format_penalty=0.0)
    assert upstream.unwrapped.reward_bounds().episode == (0.0, 1.0)  # upstream's own rewards


def test_adversarial_streams_stay_in_bounds(cache_dir):
    env = agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir, split="test")
    check_reward_bounds(env, STREAMS + default_streams(0, env), episodes=6)


def test_the_invalid_flood_costs_its_penalties(cache_dir):
    env = agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir, split="test")
    total = play(env, flood_then_buy, seed=0)
    outcome = env.unwrapped.progress()
    assert total == pytest.approx(10 * -0.1 + outcome) and outcome < 1.0


@pytest.mark.parametrize("name", [s.__name__ for s in STREAMS] + ["expert"])
def test_success_only_for_a_purchase_that_scores_one(name, cache_dir):
    """Across 40 goals per stream, an episode succeeds exactly when its purchase scores 1 (every
    attribute, option and the price matched, the right type), and never scores above 1."""
    env = agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir, split="test")
    stream = expert_stream(env) if name == "expert" else next(s for s in STREAMS if s.__name__ == name)
    successes = 0
    for goal_index in range(40):
        observation, info = env.reset(seed=goal_index, options={"goal_index": goal_index})
        turn, done = 0, False
        while not done:
            observation, reward, terminated, truncated, info = env.step(stream(observation, info, turn))
            done, turn = terminated or truncated, turn + 1
        outcome = info.get("outcome", 0.0)
        assert 0.0 <= outcome <= 1.0
        assert info["success"] is (outcome == 1.0)
        if info["success"]:
            details = info["reward_info"]
            assert details["r_type"] == details["r_att"] == details["r_price"] == 1.0
            assert details.get("r_option", 1.0) == 1.0 and info["progress"] == 1.0
            successes += 1
    if name == "expert":
        assert successes >= 15  # the check is not vacuous: the expert buys the right thing

def test_extra_options_on_a_goal_without_options_score_at_most_one(cache_dir):
    """The issue's case: a goal with no options, bought with options, scored 1.5 under a count
    over the purchased options; upstream's rule scores at most 1."""
    env = agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir, max_turns=30)
    shop = env.unwrapped.shop
    index = next(i for i in range(5000) if not shop.goals.goal("train", i)["goal_options"])
    _, info = env.reset(seed=0, options={"goal_index": index})
    goal = env.unwrapped.goal
    _, _, _, _, info = env.step(answer(f"search[{goal['query']} black white {' '.join(goal['attributes'])}]"))
    asin = next(a for a in ASIN.findall(" ".join(info["available_actions"]))
                if shop.products[shop.product_index(a)]["options"])
    _, _, _, _, info = env.step(answer(f"click[{asin}]"))
    for action in option_clicks(info):
        env.step(answer(action))
    _, reward, terminated, _, info = env.step(answer("click[Buy Now]"))
    assert terminated and info["purchased"]["options"] and not info["goal"]["options"]
    assert 0.0 <= reward <= 1.0 and info["progress"] <= 1.0
