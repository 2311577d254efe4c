"""agentrl's WebShop reward against upstream's: upstream's own tests, translated, and a port of
upstream's goal.py as the reference oracle, compared on random cases and on 1,250 env purchases.

``upstream_*`` below is a port of princeton-nlp/WebShop ``web_agent_site/engine/goal.py``
(``get_type_reward``, ``get_attribute_reward``, ``get_option_reward``, ``get_reward``) and
``web_agent_site/engine/normalize.py`` (``normalize_color``, ``COLOR_SET``), MIT licence,
Copyright (c) 2023 Princeton Natural Language Processing. It follows upstream line by line on
purpose and is used only here, as the oracle. Like upstream it scores strings with ``thefuzz`` and
loads the whole spaCy pipeline.

The tests translated from upstream's ``tests/web-agent-site/engine/test_goal.py`` keep its inputs
and assertions. The title cases differ only through the spaCy model: upstream's expectations
(0.333, 0.3, 0.15, < 0.05) were computed with ``en_core_web_lg`` under spaCy 3.3 (its CI runs
``spacy download en_core_web_lg``); here the model is ``en_core_web_sm`` 3.8.0, whose tags give
0.4, 0.3125, 0.1667 and 0.0 (worked below), and the oracle, with the same model, agrees exactly.
"""

from __future__ import annotations

import random
import re
from functools import lru_cache
from math import isclose

import pytest

pytest.importorskip("bm25s")
pytest.importorskip("rapidfuzz")
fuzz = pytest.importorskip("thefuzz.fuzz")

import agentrl  # noqa: E402
from agentrl.envs.webshop.reward import (  # noqa: E402
    get_attribute_reward,
    get_option_reward,
    get_reward,
    get_type_reward,
)
from agentrl.envs.webshop.tagger import installed_spacy_model, make_tagger  # noqa: E402

SPACY_MODEL = installed_spacy_model()
needs_spacy = pytest.mark.skipif(SPACY_MODEL is None, reason="spaCy with an English pipeline is not installed")


# ------------------------------------------------------------------ the oracle: upstream's code
UPSTREAM_COLOR_SET = """alabaster apricot aqua ash asphalt azure banana beige black blue blush bordeaux bronze
brown burgundy camel camo caramel champagne charcoal cheetah chestnut chocolate christmas coffee cognac copper
coral cranberry cream crystal dark denim eggplant elephant espresso fuchsia gold granite grape graphite grass
gray green grey heather indigo ivory ivy khaki lavender lemon leopard light lilac lime magenta maroon mauve merlot
midnight mint mocha multicolor mushroom mustard natural navy nude olive orange peach pewter pink plum purple
rainbow red rose royal rust sand sapphire seashell silver skull slate steel stone stonewash sunflower tan taupe
teal tiger turquoise violet walnut wheat white wine yellow""".split()


def upstream_normalize_color(color_string):
    for norm_color in UPSTREAM_COLOR_SET:
        if norm_color in color_string:
            return norm_color
    return color_string


@lru_cache(maxsize=1)
def upstream_nlp():
    import spacy

    return spacy.load(SPACY_MODEL)  # upstream: spacy.load("en_core_web_sm"), every component


@lru_cache(maxsize=None)
def upstream_nouns(title):
    return [t.text.lower() for t in upstream_nlp()(title) if t.pos_ in ("PNOUN", "NOUN", "PROPN")]


def upstream_get_type_reward(purchased_product, goal):
    query_match = purchased_product["query"] == goal["query"]
    purchased_product_category = [x.strip() for x in purchased_product["product_category"].split("›")]
    goal_product_category = [x.strip() for x in goal["product_category"].split("›")]
    category_match = len(set(purchased_product_category) & set(goal_product_category)) >= 2
    purchased_type_parse = upstream_nouns(purchased_product["name"])
    desired_type_parse = upstream_nouns(goal["name"])
    n_intersect_type = len(set(purchased_type_parse) & set(desired_type_parse))
    if len(desired_type_parse) == 0:
        title_score = 0.2
    else:
        title_score = n_intersect_type / len(desired_type_parse)
    r_type = 1.0
    match = query_match or category_match or title_score > 0.2
    if not match:
        r_type = 0.5
    if title_score < 0.1:
        r_type = 0.1
    if title_score == 0.0:
        r_type = 0.0
    return dict(r_type=r_type, query_match=query_match, category_match=category_match, title_score=title_score)


def upstream_get_attribute_reward(purchased_product, goal):
    purchased_attrs = purchased_product["Attributes"]
    goal_attrs = goal["attributes"]
    num_attr_matches = 0
    for g_attr in goal_attrs:
        matched = False
        for p_attr in purchased_attrs:
            score = fuzz.token_set_ratio(p_attr, g_attr)
            if score > 85:
                num_attr_matches += 1
                matched = True
                break
        if not matched and (
            g_attr in purchased_product["Title"].lower()
            or g_attr in " ".join(purchased_product["BulletPoints"]).lower()
            or g_attr in purchased_product["Description"].lower()
        ):
            num_attr_matches += 1
            matched = True
    r_attr = num_attr_matches / len(goal_attrs)
    return r_attr, num_attr_matches


def upstream_get_option_reward(purchased_options, goal_options):
    purchased_options = [upstream_normalize_color(o) for o in purchased_options]
    goal_options = [upstream_normalize_color(o) for o in goal_options]
    num_option_matches = 0
    for g_option in goal_options:
        for p_option in purchased_options:
            score = fuzz.token_set_ratio(p_option, g_option)
            if score > 85:
                num_option_matches += 1
                break
    r_option = num_option_matches / len(goal_options) if len(goal_options) > 0 else None
    return r_option, num_option_matches


def upstream_get_reward(purchased_product, goal, price, options):
    r_type_dict = upstream_get_type_reward(purchased_product, goal)
    r_price = (price <= goal["price_upper"]) if goal["price_upper"] > 0 else None
    r_att, num_attr_matches = upstream_get_attribute_reward(purchased_product, goal)
    r_option, num_option_matches = upstream_get_option_reward(
        list(options.values()),
        goal["goal_options"].items() if isinstance(goal["goal_options"], dict) else goal["goal_options"],
    )
    total_reward = (num_attr_matches + num_option_matches + r_price) / (
        len(goal["attributes"]) + len(goal["goal_options"]) + 1
    )
    total_reward *= r_type_dict["r_type"]
    return total_reward


# ------------------------------------------------------------------ upstream's test_goal.py, translated
@pytest.fixture(scope="module")
def spacy_tagger():
    if SPACY_MODEL is None:
        pytest.skip("spaCy with an English pipeline is not installed")
    return make_tagger("spacy")


def test_get_type_reward(spacy_tagger):
    goal = {"query": "Query 1", "product_category": "a › b › c", "name": "Name 1"}
    purchased = {"query": "Query 1", "product_category": "a › b › c", "name": "Name 1"}
    result = get_type_reward(purchased, goal, spacy_tagger)
    assert result["r_type"] == 1.0
    assert result["query_match"] is True and result["category_match"] is True and result["title_score"] == 1

    purchased["query"] = "Query 2"
    assert get_type_reward(purchased, goal, spacy_tagger)["query_match"] is False

    for path, expected in (("b › c › a", True), ("d › e › f", False), ("a › d › b", True),
                           ("a › a › b", True), ("a › a › d", False)):
        purchased["product_category"] = path
        assert get_type_reward(purchased, goal, spacy_tagger)["category_match"] is expected

    # title cases: (goal, purchased, upstream's value with en_core_web_lg, ours with en_core_web_sm)
    cases = [
        # goal nouns: mens d.o.n. issue gca basketball sneakers shoes casual off white (10);
        # shared: mens basketball sneakers shoes -> 4/10
        ("Mens D.O.N. Issue 2 Gca Basketball Sneakers Shoes Casual - Off White",
         "PEAK High Top Mens Basketball Shoes Lou Williams Streetball Master Breathable Non Slip Outdoor Sneakers",
         0.333, 0.4),
        # goal nouns: saireed ul prong power cord jbl bar channel k ultra hd soundbar home theater system
        # subwoofer (16); shared: power cord home theater system -> 5/16
        ("Saireed UL Listed 2 Prong Power Cord for JBL Bar 3.1 Bar 2.1 Channel 4K Ultra HD Soundbar Home "
         "Theater System Subwoofer",
         "BRST AC Power Cord Outlet Socket Cable Plug Lead for Panasonic SC-HT830V DVD/VCR Combo Home Theater System",
         0.3, 5 / 16),
        # the same without the last four nouns (12); shared: power cord -> 2/12
        ("Saireed UL Listed 2 Prong Power Cord for JBL Bar 3.1 Bar 2.1 Channel 4K Ultra HD Soundbar",
         "BRST AC Power Cord Outlet Socket Cable Plug Lead for Panasonic SC-HT830V DVD/VCR Combo Home Theater System",
         0.15, 2 / 12),
        ("Rusticware 921ORB Kitchen and Bath Cabinet Knob",
         "Minkissy 2pcs Stainless Steel Eyebrow Tweezers Blackhead Acne Remover Portable Makeup Tweezers (Silver)",
         0.0, 0.0),  # upstream asserts < 0.05
    ]
    for goal_name, purchased_name, upstream_lg, sm_value in cases:
        goal["name"], purchased["name"] = goal_name, purchased_name
        result = get_type_reward(purchased, goal, spacy_tagger)
        assert result == upstream_get_type_reward(purchased, goal)  # same code, same model: same numbers
        expected = sm_value if spacy_tagger.name.startswith("spacy:en_core_web_sm") else upstream_lg
        assert isclose(result["title_score"], expected, abs_tol=1e-2)


def test_get_attribute_reward():
    goal = {"attributes": ["tea tree", "essential oils", "natural ingredients"]}
    purchased = {"Attributes": ["tea tree", "essential oil", "natural ingredients"]}
    assert get_attribute_reward(purchased, goal) == (1, 3)

    purchased = {"Attributes": ["essential oil", "natural ingredients"], "Title": "", "BulletPoints": [],
                 "Description": ""}
    assert get_attribute_reward(purchased, goal) == (2.0 / 3.0, 2)

    purchased = {"Attributes": [], "Title": "",
                 "BulletPoints": ["This shampoo has essential oils and smells like lemons"],
                 "Description": "Best shampoo on the market, made with natural ingredients"}
    assert get_attribute_reward(purchased, goal) == (2.0 / 3.0, 2)

    purchased = {"Attributes": ["tea bag", "earl gray", "lipton"], "Title": "English tea for breakfast",
                 "BulletPoints": ["Soothing aroma", "Calming, great feeling"],
                 "Description": "Best tea made by Lipton, great to pair with breakfast"}
    assert get_attribute_reward(purchased, goal) == (0, 0)


def test_get_option_reward():
    goal = ["grey", "XL", "pack of 12"]
    assert get_option_reward(["pack of 12", "grey", "XL"], goal) == (1, 3)
    assert get_option_reward(["pack of 12", "blue", "XL"], goal) == (2.0 / 3.0, 2)
    goal = ["cool powder snow", "XL", "pack of 12"]
    assert get_option_reward(["pack of 12", "powder snow", "XL"], goal) == (1, 3)
    assert get_option_reward(["goal 1", "goal 2"], []) == (None, 0)
    assert get_option_reward([], ["goal 1", "goal 2"]) == (0, 0)


@needs_spacy
def test_get_reward():
    goal = {
        "query": "Query 1",
        "product_category": "a › b › c",
        "name": "Mens D.O.N. Issue 2 Gca Basketball Sneakers Shoes Casual - Off White",
        "attributes": ["tea tree", "essential oils", "natural ingredients"],
        "goal_options": {"color": "grey", "size": "XL"},
        "price_upper": 40.00,
    }
    purchased = {
        "query": "Query 1",
        "product_category": "a › b › c",
        "name": "Mens D.O.N. Issue 2 Gca Basketball Sneakers Shoes Casual - Off White",
        "Attributes": ["tea tree", "essential oil", "natural ingredients"],
        "Title": "",
        "BulletPoints": [],
        "Description": "",
        "goal_options": {"color": "grey", "size": "XL"},
    }
    assert get_reward(purchased, goal, 35, purchased["goal_options"]) == 1

    purchased["Attributes"] = []
    purchased["Title"] = ""
    purchased["BulletPoints"] = "This shampoo has essential oils and smells like lemons"  # a string, as upstream
    purchased["Description"] = "Best shampoo on the market, made with natural ingredients"
    assert isclose(get_reward(purchased, goal, 35, purchased["goal_options"]), 2.0 / 3.0, abs_tol=1e-2)

    goal["goal_options"] = {"color": "grey", "size": "XL", "amount": "pack of 12"}
    assert isclose(get_reward(purchased, goal, 35, purchased["goal_options"]), 0.5714, abs_tol=1e-2)

    goal["name"] = "Saireed UL Listed 2 Prong Power Cord for JBL Bar 3.1 Bar 2.1 Channel 4K Ultra HD Soundbar"
    purchased["name"] = (
        "BRST AC Power Cord Outlet Socket Cable Plug Lead for Panasonic SC-HT830V DVD/VCR Combo Home Theater System"
    )
    purchased["query"] = "Query 2"
    purchased["product_category"] = "a › d › e"
    value = get_reward(purchased, goal, 35, purchased["goal_options"])
    assert isclose(value, 0.2857, abs_tol=1e-2)
    assert value == upstream_get_reward(purchased, goal, 35, purchased["goal_options"])
    # upstream's keyword interface: verbose=True returns the components too; unknown keywords are ignored
    total, info = get_reward(purchased, goal, 35, purchased["goal_options"], verbose=True, session="x")
    assert total == value and info["r_option"] == 2 / 3 and info["r_type"] == 0.5


# ------------------------------------------------------------------ random cases against the oracle
@pytest.fixture(scope="module")
def shop(tmp_path_factory):
    env = agentrl.make("agentrl/WebShop-v0", cache_dir=str(tmp_path_factory.mktemp("webshop-cache")))
    yield env.unwrapped.shop
    env.close()


def test_option_reward_agrees_with_upstream_on_random_cases(shop):
    """5,000 random option sets from the catalog's vocabulary, goal options as pairs (synthetic
    goals) and as bare values (human goals), plus noisy variants of the values."""
    rng = random.Random(0)
    vocabulary = sorted({(name, value) for p in shop.products for name, values in p["options"].items()
                         for value in values})
    values = [value for _, value in vocabulary]

    def noisy(value):
        roll = rng.random()
        if roll < 0.2:
            return value + rng.choice(("s", " pack", " (pack of 2)", "-large"))
        if roll < 0.3:
            return value.upper()
        return value

    for case in range(5000):
        goal_pairs = rng.sample(vocabulary, rng.randint(0, 3))
        goal_options = goal_pairs if case % 2 else [value for _, value in goal_pairs]
        wanted = [value for _, value in goal_pairs]
        purchased = [noisy(rng.choice(wanted + values)) for _ in range(rng.randint(0, 4))]
        assert get_option_reward(purchased, goal_options) == upstream_get_option_reward(purchased, goal_options), (
            purchased, goal_options)


@needs_spacy
def test_reward_agrees_with_upstream_on_random_products_and_goals(shop):
    rng = random.Random(1)
    goals = shop.goals
    for _ in range(500):
        goal = goals.goals[rng.randrange(len(goals.goals))]
        product = shop.products[rng.randrange(len(shop.products))]
        options = {name: rng.choice(vals) for name, vals in product["options"].items() if rng.random() < 0.7}
        price = rng.choice((goal["price_upper"] - 1, goal["price_upper"], goal["price_upper"] + 1))
        assert get_reward(product, goal, price, options) == upstream_get_reward(product, goal, price, options)


# ------------------------------------------------------------------ 1,250 purchases through the env
ASIN = re.compile(r"click\[([A-Z0-9]{10})\]")


def _step(env, action):
    return env.step(f"<answer>{action}</answer>")


def _buy(env, rng, goal_index, kind, goals_without_options):
    """Play one episode that buys something; return (info at the purchase, the goal)."""
    split = "train" if kind == 3 else rng.choice(("test", "train"))
    if kind == 3:
        index = goals_without_options[goal_index % len(goals_without_options)]
    else:
        index = goal_index % env.unwrapped.shop.goals.size(split)
    env.reset(seed=goal_index, options={"split": split, "goal_index": index})
    shop, goal = env.unwrapped.shop, env.unwrapped.goal
    if kind in (0, 1):
        _, _, _, _, info = _step(env, f"search[{shop.products[shop.product_index(goal['asin'])]['Title']}]")
    elif kind == 4:  # any product, usually of another type with other option names
        _, _, _, _, info = _step(env, f"search[{rng.choice(shop.products)['Title']}]")
    else:
        _, _, _, _, info = _step(env, f"search[{goal['query']} {' '.join(goal['attributes'])}]")
    asins = ASIN.findall(" ".join(info["available_actions"]))
    chosen = goal["asin"] if kind in (0, 1) and goal["asin"] in asins else rng.choice(asins)
    _step(env, f"click[{chosen}]")
    product = shop.products[shop.product_index(chosen)]
    for name, values in product["options"].items():
        if kind == 0 and name in goal["goal_options"]:
            choice = goal["goal_options"][name]
        elif rng.random() < 0.75:
            choice = rng.choice(values)
        else:
            continue
        if choice in values:
            _step(env, f"click[{choice}]")
    observation, reward, terminated, _, info = _step(env, "click[Buy Now]")
    assert terminated and "outcome" in info, observation
    return info, goal, product


@needs_spacy
def test_env_purchases_agree_with_upstream(tmp_path):
    """1,250 purchases: the goal's product with the goal's options, the goal's product with random
    options, another product of the goal's type, goals without options bought with options, and any
    product at all. agentrl's reward equals the upstream oracle's on every one; success is exactly a
    score of 1."""
    env = agentrl.make("agentrl/WebShop-v0", cache_dir=str(tmp_path), max_turns=50)
    goals = env.unwrapped.shop.goals
    goals_without_options = [i for i in range(2000) if not goals.goal("train", i)["goal_options"]]
    assert len(goals_without_options) >= 20
    rng = random.Random(2)
    extra_options = no_option_goals_with_options = perfect = 0
    for episode in range(1250):
        info, goal, product = _buy(env, rng, episode, episode % 5, goals_without_options)
        bought_options = info["purchased"]["options"]
        expected = upstream_get_reward(product, goal, info["purchased"]["price"], bought_options)
        assert info["outcome"] == pytest.approx(expected, abs=1e-12), (goal, info["purchased"])
        assert info["reward_components"]["purchase"] == info["outcome"] <= 1.0
        assert info["success"] is (expected == 1.0)
        extra_options += bool(set(bought_options) - set(goal["goal_options"]))
        no_option_goals_with_options += bool(bought_options and not goal["goal_options"])
        perfect += expected == 1.0
    env.close()
    print(f"{extra_options} purchases with options the goal does not name ({no_option_goals_with_options} "
          f"for goals without options), {perfect} perfect")
    assert extra_options >= 200 and no_option_goals_with_options >= 100 and perfect >= 100
