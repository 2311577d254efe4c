"""WebShop-v0: the page state machine, observations, info keys and the Gymnasium contract."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

pytest.importorskip("bm25s")
pytest.importorskip("rapidfuzz")

import agentrl  # noqa: E402
from agentrl.core.config import ConfigError  # noqa: E402
from agentrl.envs.webshop import render  # noqa: E402
from agentrl.envs.webshop.pages import PRODUCT_WINDOW  # noqa: E402


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory):
    return str(tmp_path_factory.mktemp("webshop-cache"))


@pytest.fixture
def make(cache_dir):
    envs = []

    def build(**kwargs):
        env = agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir, **kwargs)
        envs.append(env)
        return env

    yield build
    for env in envs:
        env.close()


def act(env, action):
    return env.step(f"<answer>{action}</answer>")


def asins_on_page(info):
    return [a[6:-1] for a in info["available_actions"] if re.fullmatch(r"click\[[A-Z0-9]{10}\]", a)]


def test_check_env_passes_with_default_kwargs(cache_dir):
    from gymnasium.utils.env_checker import check_env

    env = agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir)
    check_env(env.unwrapped)


def test_search_page_lists_only_search(make):
    env = make()
    observation, info = env.reset(seed=0)
    assert info["available_actions"] == ["search[<keywords>]"]
    assert "[Search]" in observation and info["instruction"] in observation
    assert info["task_id"].startswith("webshop-train-")
    assert set(info) >= {"reward_components", "success", "action_valid", "progress"}


def test_pagination_ten_per_page_from_top_fifty(make):
    env = make()
    env.reset(seed=0)
    shop = env.unwrapped.shop
    hits = shop.search("running shoes")
    assert len(hits) == 50
    expected = [
        [shop.products[i]["asin"] for i in hits[k * PRODUCT_WINDOW : (k + 1) * PRODUCT_WINDOW]]
        for k in range(5)
    ]
    observation, _, _, _, info = act(env, "search[Running Shoes]")
    assert "Page 1 (Total results: 50)" in observation
    assert asins_on_page(info) == expected[0]
    assert "click[Next >]" in info["available_actions"] and "click[< Prev]" not in info["available_actions"]
    for page in range(2, 6):
        observation, _, _, _, info = act(env, "click[Next >]")
        assert f"Page {page} (Total results: 50)" in observation
        assert asins_on_page(info) == expected[page - 1]
        assert "click[< Prev]" in info["available_actions"]
    # upstream's results template shows "Next >" on every results page, even past the last hit
    assert "click[Next >]" in info["available_actions"]
    observation, _, _, _, info = act(env, "click[Next >]")
    assert info["action_valid"] and "Page 6 (Total results: 50)" in observation
    assert asins_on_page(info) == [] and "click[Next >]" in info["available_actions"]
    act(env, "click[< Prev]")
    observation, _, _, _, info = act(env, "click[< Prev]")
    assert "Page 4" in observation and asins_on_page(info) == expected[3]


def test_back_to_search_from_results_item_and_sub_page(make):
    env = make()
    env.reset(seed=1)
    for path in ([], ["item"], ["item", "click[Features]"]):
        _, _, _, _, info = act(env, "search[olive oil]")
        if path:
            act(env, f"click[{asins_on_page(info)[0]}]")
        for step in path[1:]:
            act(env, step)
        observation, _, _, _, info = act(env, "click[Back to Search]")
        assert info["action_valid"] and info["available_actions"] == ["search[<keywords>]"]
        assert "[Search]" in observation


def test_invalid_click_is_a_no_op_that_explains_itself(make):
    env = make()
    env.reset(seed=2)
    _, _, _, _, before = act(env, "search[coffee beans]")
    state = env.unwrapped.render_text()
    observation, reward, terminated, truncated, info = act(env, "click[Buy Now]")
    assert info["action_valid"] is False and reward == pytest.approx(-0.1)
    assert info["reward_components"] == {"format": -0.1}
    assert "'Buy Now' cannot be clicked" in observation and "Valid actions:" in observation
    assert env.unwrapped.render_text() == state  # nothing changed
    assert info["available_actions"] == before["available_actions"]
    assert not terminated and not truncated and info["invalid_actions"] == 1


def test_search_works_on_every_page_as_in_upstreams_text_env(make):
    env = make()
    env.reset(seed=3)
    _, _, _, _, info = act(env, "search[green tea]")
    assert "search[<keywords>]" in info["available_actions"]
    first = asins_on_page(info)[0]
    _, _, _, _, info = act(env, f"click[{first}]")
    values = next(iter(env.unwrapped.shop.products[env.unwrapped.browser.item]["options"].values()), [])
    if values:
        act(env, f"click[{values[0]}]")
    for page_action in ([], ["click[Features]"]):
        for action in page_action:
            act(env, action)
        observation, _, _, _, info = act(env, "search[black tea]")
        assert info["action_valid"] and "Page 1 (Total results:" in observation
        browser = env.unwrapped.browser
        assert browser.keywords == "black tea" and browser.options == {} and browser.item is None
        act(env, f"click[{asins_on_page(info)[0]}]")
    state = env.unwrapped.render_text()
    for text in ("buy it", "search[]", "click[]", "<answer></answer>"):
        _, _, _, _, info = env.step(text)
        assert info["action_valid"] is False
    assert env.unwrapped.render_text() == state


def test_item_page_options_sub_pages_and_prev(make):
    env = make(show_attributes=True)
    env.reset(seed=4)
    _, _, _, _, info = act(env, "search[bed sheets queen]")
    asin = asins_on_page(info)[0]
    product = env.unwrapped.shop.products[env.unwrapped.shop.product_index(asin)]
    observation, _, _, _, info = act(env, f"click[{asin.lower()}]")  # clicks are case-insensitive
    assert product["Title"] in observation and f"Price: {product['Price']}" in observation
    for label in ("Back to Search", "< Prev", "Description", "Features", "Reviews", "Attributes", "Buy Now"):
        assert f"click[{label}]" in info["available_actions"]
    name, values = next(iter(product["options"].items()))
    observation, _, _, _, info = act(env, f"click[{values[-1]}]")
    assert f"(selected: {values[-1]})" in observation and env.unwrapped.browser.options == {name: values[-1]}
    observation, _, _, _, info = act(env, "click[Attributes]")
    # upstream's attributes_page.html: the attributes, then category, query and category path
    lines = observation.splitlines()
    shown = lines[lines.index("[< Prev]") + 1 :]
    assert shown == [*product["Attributes"], product["category"], product["query"], product["product_category"]]
    assert sorted(info["available_actions"]) == ["click[< Prev]", "click[Back to Search]", "search[<keywords>]"]
    observation, _, _, _, _ = act(env, "click[Features]")  # not on a sub page
    assert "cannot be clicked" in observation
    observation, _, _, _, _ = act(env, "click[< Prev]")
    assert f"(selected: {values[-1]})" in observation  # options kept on return to the item
    observation, _, _, _, info = act(env, "click[< Prev]")
    assert "Page 1 (Total results:" in observation and env.unwrapped.browser.options == {}


def test_episode_reaches_buy_now_with_full_score(make):
    env = make()
    _, info = env.reset(seed=5, options={"goal_index": 7})
    shop, goal = env.unwrapped.shop, env.unwrapped.goal
    target = shop.products[shop.product_index(goal["asin"])]
    _, _, _, _, info = act(env, f"search[{target['Title']}]")
    assert goal["asin"] in asins_on_page(info)
    _, _, _, _, info = act(env, f"click[{goal['asin']}]")
    assert info["subgoals"]["open an item of the goal type"] is True
    for value in goal["goal_options"].values():
        _, reward, _, _, info = act(env, f"click[{value}]")
        assert reward == 0.0
    observation, reward, terminated, truncated, info = act(env, "click[Buy Now]")
    assert terminated and not truncated
    assert reward == pytest.approx(1.0) and info["outcome"] == pytest.approx(1.0)
    assert info["success"] is True and info["progress"] == pytest.approx(1.0)
    assert info["reward_components"] == {"purchase": pytest.approx(1.0), "format": 0.0}
    assert info["purchased"]["asin"] == goal["asin"] and info["purchased"]["options"] == goal["goal_options"]
    assert "Your score (min 0.0, max 1.0): 1.00" in observation and info["available_actions"] == []
    with pytest.raises(RuntimeError):
        act(env, "click[Buy Now]")


def test_buying_the_wrong_thing_scores_low(make):
    env = make()
    env.reset(seed=6, options={"goal_index": 3})
    goal = env.unwrapped.goal
    other_query = next(q for q in ("hdmi cable", "green tea") if q != goal["query"])
    _, _, _, _, info = act(env, f"search[{other_query}]")
    act(env, f"click[{asins_on_page(info)[0]}]")
    _, reward, terminated, _, info = act(env, "click[Buy Now]")
    assert terminated and reward < 0.5 and info["success"] is False
    assert info["reward_info"]["query_match"] is False


def test_turn_limit_truncates(make):
    env = make(max_turns=2)
    env.reset(seed=0)
    act(env, "search[lamp]")
    _, _, terminated, truncated, _ = act(env, "click[Next >]")
    assert truncated and not terminated


def test_same_seed_same_goal_and_splits(make):
    env_a, env_b = make(), make()
    tasks = []
    for seed in range(5):
        _, info_a = env_a.reset(seed=seed)
        _, info_b = env_b.reset(seed=seed)
        assert info_a["instruction"] == info_b["instruction"] and info_a["task_id"] == info_b["task_id"]
        tasks.append(info_a["task_id"])
    assert len(set(tasks)) == 5
    test_env = make(split="test")
    _, info = test_env.reset(seed=0, options={"goal_index": 499})
    assert info["task_id"] == "webshop-test-499"
    with pytest.raises(IndexError, match="split 'test' has 500 goals"):
        test_env.reset(seed=0, options={"goal_index": 500})


def test_weighted_goal_sampling_is_seeded(make):
    env = make()
    first = [env.reset(seed=s)[1]["task_id"] for s in range(3)]
    assert first == [env.reset(seed=s)[1]["task_id"] for s in range(3)]


def test_goals_are_drawn_by_upstreams_weights_by_default(make):
    """Upstream's server draws a goal with probability proportional to its weight: the mean
    weight of the drawn goals is then sum(w^2)/sum(w), well above the uniform mean sum(w)/n."""
    draws = 3000
    weights = {}
    for weighted in (True, False):
        env = make(split="test", weighted_goals=weighted)
        goals = env.unwrapped.shop.goals
        w = np.array([goals.goal("test", i)["weight"] for i in range(goals.size("test"))])
        drawn = [env.reset(seed=s)[0] and env.unwrapped.goal_index for s in range(draws)]
        weights[weighted] = w[drawn].mean()
    expected_weighted, expected_uniform = (w**2).sum() / w.sum(), w.mean()
    spread = w.std() / np.sqrt(draws)
    assert expected_weighted > expected_uniform + 10 * spread  # the two rules are far apart
    assert abs(weights[True] - expected_weighted) < 5 * spread
    assert abs(weights[False] - expected_uniform) < 5 * spread


def test_bad_config_lists_choices(cache_dir):
    with pytest.raises(ValueError, match="text, sep, text_rich, html, url"):
        agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir, observation_mode="json")
    with pytest.raises(ValueError, match="train, eval, test"):
        agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir, split="dev")
    with pytest.raises(ConfigError, match="show_attributes"):
        agentrl.make("agentrl/WebShop-v0", cache_dir=cache_dir, show_attribute=True)


def test_html_observation_mode(make):
    env = make(observation_mode="html")
    observation, _ = env.reset(seed=0)
    assert observation.startswith("<!DOCTYPE html>") and 'id="search_input"' in observation
    observation, _, _, _, info = act(env, "search[wireless mouse]")
    assert (
        observation.count('class="product-link"') == 10
        and '<button type="submit" class="btn">Next &gt;</button>' in observation
    )
    observation, _, _, _, _ = act(env, f"click[{asins_on_page(info)[0]}]")
    product = env.unwrapped.shop.products[env.unwrapped.browser.item]
    for name in product["options"]:
        assert f'type="radio" id="radio_{name}0" name="{name}"' in observation


def test_sep_observation_mode(make):
    env = make(observation_mode="sep", include_instruction=False)
    observation, info = env.reset(seed=0)
    assert observation == f"WebShop [SEP] Instruction: [SEP] {info['instruction']} [SEP] Search"
    observation, _, _, _, info = act(env, "search[area rug]")
    first = asins_on_page(info)[0]
    assert observation.startswith(
        "Back to Search [SEP] Page 1 (Total results: 50) [SEP] Next > [SEP] " + first
    )


def _open_item_with_options(env, keywords):
    """Search, open the first product that has options, choose the first value of its first group."""
    _, _, _, _, info = act(env, f"search[{keywords}]")
    shop = env.unwrapped.shop
    asin = next(a for a in asins_on_page(info) if shop.products[shop.product_index(a)]["options"])
    act(env, f"click[{asin}]")
    product = shop.products[shop.product_index(asin)]
    name, values = next(iter(product["options"].items()))
    act(env, f"click[{values[0]}]")
    return asin, product, name, values[0]


def test_text_rich_observation_mode(make):
    """WebShop's text_rich rendering (web_agent_text_env.convert_html_to_text(simple=False))."""
    env = make(observation_mode="text_rich", split="test")
    observation, info = env.reset(seed=0, options={"goal_index": 3})
    instruction = info["instruction"]
    assert observation == f"WebShop\nInstruction:\n{instruction}\n[button] Search [button_]\n"
    asin, product, name, chosen = _open_item_with_options(env, "shampoo lavender")
    observation = env.unwrapped.render_text()
    expected = [f"You have clicked {chosen}.", "Instruction:", instruction,
                "[button] Back to Search [button_]", "[button] < Prev [button_]"]
    for group, values in product["options"].items():
        expected.append(group)
        expected += [f"  [clicked button] {v} [clicked button_]" if (group, v) == (name, chosen)
                     else f"  [button] {v} [button_]" for v in values]
    expected += [product["Title"], f"Price: {product['Price']}", f"Rating: {product['Rating']}"]
    expected += [f"[button] {label} [button_]" for label in ("Description", "Features", "Reviews", "Buy Now")]
    assert observation == "\n".join(expected) + "\n"
    observation, _, _, _, info = act(env, "click[< Prev]")
    # a product opened since the last Back to Search is a clicked button, after a blank line
    assert f"\n\n[clicked button] {asin} [clicked button_]\n{product['Title']}\n" in observation
    others = [a for a in asins_on_page(info) if a != asin]
    assert f"\n\n[button] {others[0]} [button_]\n" in observation
    act(env, "click[Back to Search]")
    observation, _, _, _, _ = act(env, "search[shampoo lavender]")
    assert "[clicked button]" not in observation  # Back to Search forgets the opened products


def test_url_observation_mode(make):
    """WebShop's url mode: the address upstream's SimServer gives each page."""
    env = make(observation_mode="url", split="test")
    observation, _ = env.reset(seed=0, options={"goal_index": 7})
    base = "http://127.0.0.1:3000"
    assert observation == f"{base}/7"  # test goal 7 is upstream's session 7
    observation, _, _, _, _ = act(env, "search[Office Chair]")
    assert observation == f"{base}/search_results/7/office+chair/1"
    asin, _, name, chosen = _open_item_with_options(env, "office chair black")
    assert env.unwrapped.render_text() == f'{base}/item_page/7/{asin}/office+chair+black/1/{{"{name}": "{chosen}"}}'
    observation, _, _, _, _ = act(env, "click[Description]")
    assert observation == f"{base}/item_sub_page/7/{asin}/office+chair+black/1/Description/{{'{name}': '{chosen}'}}"
    act(env, "click[< Prev]")
    observation, _, terminated, _, _ = act(env, "click[Buy Now]")
    assert terminated and observation == f"{base}/done/7/{asin}/{{'{name}': '{chosen}'}}"
    eval_env = make(observation_mode="url", split="eval")
    assert eval_env.reset(seed=0, options={"goal_index": 2})[0] == f"{base}/502"  # eval starts at 500


class _VisibleTexts(HTMLParser):
    """The text nodes of a page with their parent tag and class, as BeautifulSoup's
    ``findAll(text=True)`` gives them to upstream's ``convert_html_to_text``."""

    def __init__(self):
        super().__init__()
        self.stack, self.nodes = [], []

    def handle_starttag(self, tag, attrs):
        if tag not in ("input", "br", "img", "meta", "link"):  # void elements hold no text
            self.stack.append((tag, dict(attrs).get("class")))

    def handle_endtag(self, tag):
        while self.stack and self.stack.pop()[0] != tag:
            pass

    def handle_data(self, data):
        parent, css = self.stack[-1] if self.stack else ("[document]", None)
        if parent not in {"style", "script", "head", "title", "meta", "[document]"}:  # upstream's tag_visible
            self.nodes.append((data, parent, css))


def upstream_convert_html_to_text(html, url, visited, simple):
    """Port of upstream's WebAgentTextEnv.convert_html_to_text (web_agent_site/envs/
    web_agent_text_env.py, princeton-nlp/WebShop, MIT licence), over the stdlib HTML parser."""
    parser = _VisibleTexts()
    parser.feed(html)
    texts = parser.nodes
    if simple:
        return " [SEP] ".join(t.strip() for t, _, _ in texts if t != "\n")
    observation = ""
    for t, parent, css in texts:
        if t == "\n":
            continue
        if parent == "button":
            processed_t = f"[button] {t} [button_]"
        elif parent == "label":
            if f'"{t}"' in url:
                processed_t = f"  [clicked button] {t} [clicked button_]"
                observation = f"You have clicked {t}.\n" + observation
            else:
                processed_t = f"  [button] {t} [button_]"
        elif css == "product-link":
            if t in visited:
                processed_t = f"\n[clicked button] {t} [clicked button_]"
            else:
                processed_t = f"\n[button] {t} [button_]"
        else:
            processed_t = str(t)
        observation += processed_t + "\n"
    return observation


def test_sep_and_text_rich_equal_upstreams_conversion_of_the_html_page(make):
    """Upstream derives its text and text_rich observations from the page's HTML; applied to our
    html observation, its conversion gives exactly our sep and text_rich observations."""
    env = make(split="test", show_attributes=True)
    _, info = env.reset(seed=0, options={"goal_index": 11})
    base, pages = env.unwrapped, []

    def snapshot():
        elements = base.browser.view(base.shop, info["instruction"])
        url = base.browser.url(base.shop, str(base.session))
        pages.append((render.to_html(elements), url, set(base.browser.visited), elements))

    snapshot()
    asin, product, _, _ = _open_item_with_options(env, "office chair black")
    values = list(product["options"].values())
    if len(values) > 1:
        act(env, f"click[{values[1][-1]}]")
    snapshot()
    act(env, "click[Attributes]")
    snapshot()
    act(env, "click[< Prev]")
    act(env, "click[< Prev]")
    snapshot()
    act(env, "click[Next >]")
    snapshot()
    for html_page, url, visited, elements in pages:
        assert upstream_convert_html_to_text(html_page, url, visited, simple=True) == render.to_sep(elements)
        assert upstream_convert_html_to_text(html_page, url, visited, simple=False) == render.to_text_rich(elements)
    assert "[clicked button] " + asin in render.to_text_rich(pages[3][3])
