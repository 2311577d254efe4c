"""WebShop data: generated catalog, synthetic goals and splits, original-data loader, BM25 search."""

from __future__ import annotations

import itertools
import json
import math
import random

import numpy as np
import pytest

pytest.importorskip("bm25s")
pytest.importorskip("rapidfuzz")

import agentrl  # noqa: E402
from agentrl.envs.webshop.catalog import generate_catalog  # noqa: E402
from agentrl.envs.webshop.goals import (  # noqa: E402
    NO_PRICE_BOUND,
    GoalSplits,
    SyntheticGoals,
    human_goals,
    price_bound,
)
from agentrl.envs.webshop.original import load_original, parse_pricing, purchase_prices  # noqa: E402
from agentrl.envs.webshop.search import BM25Index, product_document, s_stem, tokenize  # noqa: E402


@pytest.fixture(scope="module")
def catalog():
    return generate_catalog(5000, seed=0)


# ---------------------------------------------------------------------- generated catalog
def test_catalog_size_categories_and_fields(catalog):
    assert len(catalog) == 5000
    assert len({p["asin"] for p in catalog}) == 5000
    assert len({p["product_category"] for p in catalog}) >= 20
    assert {p["category"] for p in catalog} == {"beauty", "electronics", "fashion", "food", "furniture"}
    option_names = {name for p in catalog for name in p["options"]}
    assert {"color", "size", "flavor name", "scent", "capacity", "style"} <= option_names
    for product in catalog[:200]:
        assert len(product["asin"]) == 10 and product["Title"] == product["name"]
        assert product["Price"] == f"${product['pricing'][0]}" and product["pricing"][0] > 0
        assert len(product["BulletPoints"]) >= 3 and product["Description"]
        # every attribute a goal can name is listed, or (the one held out of the list) in the bullets
        hidden = [a for a in product["instruction_attributes"] if a not in product["Attributes"]]
        assert len(hidden) <= 1 and all(a in " ".join(product["BulletPoints"]).lower() for a in hidden)
    assert 0.05 < np.mean([not p["options"] for p in catalog]) < 0.2  # some listings have no options


def test_catalog_is_deterministic(catalog):
    assert generate_catalog(5000, seed=0) == catalog
    assert generate_catalog(300, seed=1)[0] != generate_catalog(300, seed=2)[0]
    with pytest.raises(ValueError, match="at least 30"):
        generate_catalog(10)


# ---------------------------------------------------------------------- synthetic goals
def fixed_product(**overrides):
    product = {
        "asin": "B0TESTTEST",
        "Title": "Nor Pro Green Tea",
        "name": "Nor Pro Green Tea",
        "query": "green tea",
        "category": "food",
        "product_category": "Grocery › Tea",
        "instruction_text": "i need organic green tea",
        "instruction_attributes": ["organic"],
        "options": {"size": ["20 count", "40 count", "100 count"], "flavor name": ["mint", "lemon"]},
    }
    product.update(overrides)
    return product


def test_price_bound_follows_webshop():
    # price 23.5: the four next multiples of 10 are 30, 40, 50, 60; the bound is the larger of two
    bounds = {price_bound(23.5, random.Random(seed))[0] for seed in range(200)}
    assert bounds == {40.0, 50.0, 60.0}
    upper, text = price_bound(23.5, random.Random(0))
    assert text == f", and price lower than {upper:.2f} dollars"
    assert price_bound(985.0, random.Random(0)) == (NO_PRICE_BOUND, "")  # only 990 is above
    assert price_bound(975.0, random.Random(0))[0] == 990.0  # 980 and 990: the larger


def test_synthetic_goals_one_per_option_combination():
    product = fixed_product()
    goals = SyntheticGoals([product], [12.0], seed=0)
    assert len(goals) == 6
    names = sorted(product["options"])  # ["flavor name", "size"]
    combos = list(itertools.product(*(product["options"][n] for n in names)))
    upper = goals[0]["price_upper"]
    assert upper in (30.0, 40.0, 50.0)
    for goal, combo in zip(goals, combos):
        assert goal["goal_options"] == dict(zip(names, combo))
        assert goal["instruction_text"] == (
            f"i need organic green tea with flavor name: {combo[0]}, and size: {combo[1]}, "
            f"and price lower than {upper:.2f} dollars"
        )
        assert (
            goal["price_upper"] == upper
            and goal["name"] == product["Title"]
            and goal["attributes"] == ["organic"]
        )
    assert goals[-1] == goals[5]
    with pytest.raises(IndexError):
        goals[6]


def test_synthetic_goal_weights_are_mean_inverse_attribute_counts():
    a = fixed_product(
        asin="B0AAAAAAAA", instruction_attributes=["organic", "loose leaf"], options={"size": ["1", "2"]}
    )
    b = fixed_product(asin="B0BBBBBBBB", instruction_attributes=["organic"], options={})
    skipped = fixed_product(asin="B0CCCCCCCC", instruction_text=None)
    goals = SyntheticGoals([a, b, skipped], [5.0, 5.0, 5.0], seed=0)
    # "organic" is named by 2 + 1 = 3 goals, "loose leaf" by 2
    assert len(goals) == 3
    assert goals[0]["weight"] == pytest.approx((1 / 3 + 1 / 2) / 2)
    assert goals[2]["weight"] == pytest.approx(1 / 3)
    assert goals[2]["goal_options"] == {} and " with " not in goals[2]["instruction_text"]


def test_splits_are_fixed_disjoint_and_webshop_shuffled(catalog):
    goals = SyntheticGoals(catalog, [p["pricing"][0] for p in catalog], seed=0)
    splits = GoalSplits(goals)
    test, evaluation, train = (splits.indices(s) for s in ("test", "eval", "train"))
    assert (len(test), len(evaluation), len(train)) == (500, 1000, len(goals) - 1500)
    assert not set(test) & set(evaluation) and not set(test) & set(train) and not set(evaluation) & set(train)
    order = list(range(len(goals)))
    random.Random(233).shuffle(order)
    assert test == order[:500] and evaluation == order[500:1500]
    assert splits.goal("test", 3) == goals[order[3]]
    with pytest.raises(ValueError, match="valid: train, eval, test"):
        splits.indices("dev")
    with pytest.raises(ValueError, match="cannot hold"):
        GoalSplits([goals[i] for i in range(10)])


# ---------------------------------------------------------------------- original data files
def write_original(folder, *, with_reviews=True):
    products = [
        {
            "asin": "B0ORIG0001",
            "name": "Earth Mama Citrus Deodorant",
            "full_description": "Natural deodorant.",
            "small_description": ["Aluminum free", "Safe for sensitive skin"],
            "pricing": "$12.99",
            "customization_options": {
                "Scent": [
                    {"value": "Bright Citrus", "image": None},
                    {"value": "Lavender/Mint", "image": None},
                ]
            },
            "images": ["img1"],
            "query": " Deodorant ",
            "category": "beauty",
            "product_category": "Beauty & Personal Care › Personal Care › Deodorants",
        },
        {"asin": "nan", "name": "broken", "query": "x", "category": "beauty", "product_category": "x"},
        {
            "asin": "B0ORIG0002",
            "name": "Acme Wireless Mouse",
            "full_description": "Quiet clicks.",
            "small_description": "Ergonomic design",
            "pricing": "$5.00 - $9.50",
            "customization_options": None,
            "images": [],
            "query": "wireless mouse",
            "category": "electronics",
            "product_category": "Electronics › Computers & Accessories › Mice",
        },
        {
            "asin": "B0ORIG0001",
            "name": "duplicate",
            "query": "x",
            "category": "beauty",
            "product_category": "x",
        },
        {
            "asin": "B0ORIG0003",
            "name": "Nor Green Tea",
            "full_description": "",
            "small_description": ["Organic"],
            "pricing": "",
            "customization_options": {},
            "images": [],
            "query": "green tea",
            "category": "food",
            "product_category": "Grocery › Beverages › Tea",
        },
    ]
    attributes = {
        "B0ORIG0001": {
            "attributes": ["aluminum free", "sensitive skin"],
            "instruction": "i want aluminum free deodorant",
            "instruction_attributes": ["aluminum free"],
        },
        "B0ORIG0002": {
            "attributes": ["ergonomic design"],
            "instruction": "i need an ergonomic mouse",
            "instruction_attributes": ["ergonomic design"],
        },
    }
    human = {
        "B0ORIG0001": [
            {
                "instruction": "i need a citrus deodorant for sensitive skin.",
                "instruction_attributes": ["sensitive skin"],
                "instruction_options": ["bright citrus"],
            },
            {"instruction": "no attributes here", "instruction_attributes": [], "instruction_options": []},
        ],
        "B0ORIG0002": [
            {
                "instruction": "quiet mouse",
                "instruction_attributes": ["ergonomic design"],
                "instruction_options": [],
            },
            {
                "instruction": "ergonomic mouse please",
                "instruction_attributes": ["ergonomic design"],
                "instruction_options": [],
            },
        ],
        "B0ORIG0003": [
            {
                "instruction": "organic green tea",
                "instruction_attributes": ["organic"],
                "instruction_options": [],
            }
        ],
    }
    (folder / "items_shuffle_1000.json").write_text(json.dumps(products))
    (folder / "items_ins_v2_1000.json").write_text(json.dumps(attributes))
    (folder / "items_human_ins.json").write_text(json.dumps(human))
    if with_reviews:
        reviews = [
            {
                "asin": "B0ORIG0001",
                "average_rating": 4.5,
                "reviews": [{"title": "Works", "stars": 5, "review": "No smell all day."}],
            }
        ]
        (folder / "reviews.json").write_text(json.dumps(reviews))


def test_parse_pricing():
    assert parse_pricing("$12.99") == ([12.99], "$12.99")
    assert parse_pricing("$5.00 - $9.50") == ([5.0, 9.5], "$5.0 to $9.5")
    assert parse_pricing("$1,299.00") == ([1299.0], "$1299.0")
    assert parse_pricing(None) == ([100.0], "$100.0")


def test_load_original_cleans_like_webshop(tmp_path):
    write_original(tmp_path)
    products = load_original(tmp_path, human_goals=True)
    assert [p["asin"] for p in products] == [
        "B0ORIG0001",
        "B0ORIG0002",
        "B0ORIG0003",
    ]  # nan and duplicate dropped
    deodorant, mouse, tea = products
    assert deodorant["Title"] == "Earth Mama Citrus Deodorant" and deodorant["query"] == "deodorant"
    assert deodorant["options"] == {"scent": ["bright citrus", "lavender | mint"]}
    assert deodorant["Reviews"] == [{"title": "Works", "score": 5, "body": "No smell all day."}]
    assert deodorant["Rating"] == 4.5 and mouse["Rating"] == "N.A."
    assert mouse["BulletPoints"] == ["Ergonomic design"] and mouse["pricing"] == [5.0, 9.5]
    assert tea["Attributes"] == ["DUMMY_ATTR"] and tea["Price"] == "$100.0"
    prices = purchase_prices(products, seed=0)
    assert prices[0] == 12.99 and 5.0 <= prices[1] <= 9.5 and prices[2] == 100.0
    goals = human_goals(products, prices, seed=0)
    assert len(goals) == 4  # the instruction without attributes is skipped
    assert goals[0]["instruction_text"].startswith(
        "i need a citrus deodorant for sensitive skin, and price lower than"
    )
    assert goals[0]["goal_options"] == ["bright citrus"] and goals[0]["name"] == deodorant["name"]
    # num_products cuts the raw list before cleaning, as WebShop does: 3 raw records hold 2 products
    assert len(load_original(tmp_path, human_goals=True, num_products=3)) == 2
    synthetic = load_original(tmp_path / "items_shuffle_1000.json", human_goals=False)
    assert (
        synthetic[0]["instruction_attributes"] == ["aluminum free"]
        and synthetic[2]["instruction_text"] is None
    )


def test_load_original_missing_files_say_what_is_expected(tmp_path):
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_original(tmp_path / "nowhere")
    (tmp_path / "items_shuffle.json").write_text("[]")
    with pytest.raises(FileNotFoundError, match="items_ins_v2.json, items_ins_v2_1000.json"):
        load_original(tmp_path)


def test_env_plays_original_data_with_human_goals(tmp_path):
    write_original(tmp_path, with_reviews=False)
    env = agentrl.make(
        "agentrl/WebShop-v0",
        data_path=str(tmp_path),
        human_goals=True,
        split_sizes=[1, 1],
        cache_dir=str(tmp_path / "cache"),
        title_tagger="heuristic",
    )
    _, info = env.reset(seed=0, options={"split": "test", "goal_index": 0})
    goal = env.unwrapped.goal
    _, _, _, _, info = env.step(f"search[{goal['name']}]")
    env.step(f"click[{goal['asin']}]")
    for value in goal["goal_options"]:
        env.step(f"click[{value}]")
    _, reward, terminated, _, info = env.step("click[Buy Now]")
    assert terminated and info["purchased"]["asin"] == goal["asin"]
    expected_price = float(info["purchased"]["price"] <= goal["price_upper"])
    n = len(goal["attributes"]) + len(goal["goal_options"]) + 1
    assert reward == pytest.approx((len(goal["attributes"]) + len(goal["goal_options"]) + expected_price) / n)
    with pytest.raises(ValueError, match="needs the original data"):
        agentrl.make("agentrl/WebShop-v0", human_goals=True, cache_dir=str(tmp_path / "cache"))


# ---------------------------------------------------------------------- search
@pytest.mark.parametrize(
    "word, stem",
    [
        ("batteries", "battery"),
        ("shoes", "shoe"),
        ("glass", "glass"),
        ("bus", "bus"),
        ("toes", "toe"),
        ("series", "sery"),
        ("is", "i"),
    ],
)
def test_s_stemmer(word, stem):
    assert s_stem(word) == stem


def test_tokenize_drops_stop_words_and_possessives():
    assert tokenize("The Men's Running Shoes, and 2 Pairs of SOCKS!") == [
        "men",
        "running",
        "shoe",
        "2",
        "pair",
        "sock",
    ]


def test_bm25_scores_match_the_lucene_formula():
    documents = ["red shoes red", "blue shoes", "red hat for summer sun"]
    index = BM25Index.build(documents)
    k1, b = 0.9, 0.4
    lengths = [len(tokenize(d)) for d in documents]  # [3, 2, 4] after stop words
    average = sum(lengths) / 3

    def term(tf, df, length):
        idf = math.log(1 + (3 - df + 0.5) / (df + 0.5))
        return idf * tf / (tf + k1 * (1 - b + b * length / average))

    expected = [term(2, 2, 3) + term(1, 2, 3), term(1, 2, 2), term(1, 2, 4)]  # query "red shoes"
    assert index.scores("red shoes") == pytest.approx(expected, rel=1e-5)
    assert index.search("red shoes") == [0, 1, 2]
    assert index.search("unknown words") == [] and index.search("the and") == []


def test_search_returns_top_fifty_best_first_ties_by_position(catalog):
    documents = [product_document(p) for p in catalog[:2000]]
    index = BM25Index.build(documents)
    query = "lightweight running shoes"
    hits = index.search(query)
    scores = index.scores(query)
    assert len(hits) == 50
    ranked = sorted(range(len(documents)), key=lambda i: (-scores[i], i))[:50]
    assert hits == ranked


def test_index_is_cached_on_disk_and_readable_by_bm25s(tmp_path, catalog, monkeypatch):
    import bm25s

    documents = [product_document(p) for p in catalog[:500]]
    built = BM25Index.cached(documents, tmp_path)
    (folder,) = [p for p in tmp_path.iterdir() if p.name.startswith("bm25-")]
    monkeypatch.setattr(
        BM25Index, "build", classmethod(lambda *a, **k: pytest.fail("rebuilt a cached index"))
    )
    loaded = BM25Index.cached(documents, tmp_path)
    query = "organic coffee beans dark roast"
    assert loaded.search(query) == built.search(query)
    # bm25s itself reads the cached files and ranks the same documents
    retriever = bm25s.BM25.load(str(folder))
    ids = [retriever.vocab_dict[t] for t in tokenize(query) if t in retriever.vocab_dict]
    np.testing.assert_allclose(retriever.get_scores(ids), loaded.scores(query), rtol=1e-5)
    monkeypatch.undo()
    other = BM25Index.cached(documents[:-1], tmp_path)  # a changed corpus gets a new index
    assert other.num_docs == 499 and len([p for p in tmp_path.iterdir() if p.name.startswith("bm25-")]) == 2


def test_default_cache_dir_follows_the_environment_variable(tmp_path, monkeypatch):
    monkeypatch.setenv("AGENTRL_WEBSHOP_CACHE", str(tmp_path / "from-env"))
    BM25Index.cached(["red shoes", "blue hat"])
    assert len(list((tmp_path / "from-env").glob("bm25-*/params.index.json"))) == 1
