"""WebShop's purchase reward, with the original semantics, as importable functions.

Records are plain dicts with WebShop's keys (so files from the original dataset work as-is):

* a *product* has ``Title``, ``BulletPoints`` (list), ``Description``, ``Attributes`` (list),
  ``query``, ``product_category`` (levels joined by ``›``) and ``name`` (the title);
* a *goal* has ``attributes`` (list), ``goal_options`` (dict or list of values), ``price_upper``,
  ``query``, ``product_category`` and ``name`` (the target product's title).

The total is::

    R = (attribute matches + option matches + [price <= price_upper])
        / (len(goal attributes) + len(goal options) + 1) * r_type

Two quirks of the original are kept on purpose, because scores must be comparable: option
matches are counted over the *purchased* options (so buying extra options that appear in the
title can count), and ``size`` options match only exactly, after colour normalisation.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentrl.envs.webshop.normalize import normalize_color, token_set_ratio
from agentrl.envs.webshop.tagger import NounTagger, make_tagger

#: Option names compared by exact equality instead of fuzzy matching.
EXACT_MATCH_OPTIONS = ("size",)
#: A fuzzy token-set ratio strictly above this counts as a match.
FUZZY_THRESHOLD = 85
CATEGORY_SEPARATOR = "›"


def title_score(purchased_title: str, goal_title: str, tagger: NounTagger | None = None) -> float:
    """Share of the goal title's nouns found among the bought title's nouns (0.2 if none)."""
    tagger = tagger or make_tagger("auto")
    desired = tagger.nouns(goal_title)
    if not desired:
        return 0.2
    return len(set(tagger.nouns(purchased_title)) & set(desired)) / len(desired)


def type_reward(
    purchased: Mapping[str, Any], goal: Mapping[str, Any], tagger: NounTagger | None = None
) -> dict:
    """``r_type`` in {0, 0.1, 0.5, 1} with its inputs: query match, category match, title score."""
    query_match = purchased["query"] == goal["query"]
    bought_levels = {level.strip() for level in purchased["product_category"].split(CATEGORY_SEPARATOR)}
    goal_levels = {level.strip() for level in goal["product_category"].split(CATEGORY_SEPARATOR)}
    category_match = len(bought_levels & goal_levels) >= 2
    score = title_score(purchased["name"], goal["name"], tagger)
    r_type = 1.0 if (query_match or category_match or score > 0.2) else 0.5
    if score < 0.1:
        r_type = 0.1
    if score == 0.0:
        r_type = 0.0
    return {
        "r_type": r_type,
        "query_match": query_match,
        "category_match": category_match,
        "title_score": score,
    }


def _in_product_text(phrase: str, product: Mapping[str, Any]) -> bool:
    return (
        phrase in product["Title"].lower()
        or phrase in " ".join(product["BulletPoints"]).lower()
        or phrase in product["Description"].lower()
    )


def attribute_reward(purchased: Mapping[str, Any], goal: Mapping[str, Any]) -> tuple[float, int]:
    """(share of goal attributes matched, number matched).

    A goal attribute matches when its token-set ratio with some product attribute is above 85,
    or else when it occurs verbatim in the lowercased title, bullet points or description.
    """
    goal_attributes = list(goal["attributes"])
    if not goal_attributes:
        raise ValueError("a WebShop goal needs at least one attribute")
    matches = 0
    for wanted in goal_attributes:
        fuzzy = any(token_set_ratio(have, wanted) > FUZZY_THRESHOLD for have in purchased["Attributes"])
        if fuzzy or _in_product_text(wanted, purchased):
            matches += 1
    return matches / len(goal_attributes), matches


def goal_option_values(goal_options: Sequence[str] | Mapping[str, str]) -> list[str]:
    """The wanted option values of a goal (synthetic goals map names to values, human goals list them)."""
    return list(goal_options.values() if isinstance(goal_options, Mapping) else goal_options)


def _option_matches(name: str, value: str, goal_options: Sequence[str]) -> bool:
    if name.lower() in EXACT_MATCH_OPTIONS:
        return value in goal_options
    return any(token_set_ratio(wanted, value) > FUZZY_THRESHOLD for wanted in goal_options)


def option_reward(
    purchased: Mapping[str, Any],
    goal_options: Sequence[str] | Mapping[str, str],
    purchased_options: Mapping[str, str],
) -> tuple[float | None, int]:
    """(share of goal options matched or ``None`` without goal options, number matched).

    Values are colour-normalised first. Each purchased option counts once if it matches a goal
    option (exactly for ``size``, fuzzily otherwise) or occurs in the product's text.
    """
    wanted = [normalize_color(v) for v in goal_option_values(goal_options)]
    matches = 0
    for name, raw_value in purchased_options.items():
        value = normalize_color(raw_value)
        if _option_matches(name, value, wanted) or _in_product_text(value, purchased):
            matches += 1
    return (matches / len(wanted) if wanted else None), matches


def price_reward(price: float, goal: Mapping[str, Any]) -> float:
    """1.0 when the price paid is at most the goal's upper bound, else 0.0."""
    return float(price <= goal["price_upper"])


def total_reward(
    purchased: Mapping[str, Any],
    goal: Mapping[str, Any],
    price: float,
    options: Mapping[str, str],
    *,
    tagger: NounTagger | None = None,
    verbose: bool = False,
) -> float | tuple[float, dict[str, Any]]:
    """WebShop's reward R for buying ``purchased`` with ``options`` at ``price``.

    With ``verbose=True`` returns ``(R, info)`` where ``info`` holds every component and weight.
    """
    tagger = tagger or make_tagger("auto")
    r_type = type_reward(purchased, goal, tagger)
    r_price = price_reward(price, goal)
    r_att, attribute_matches = attribute_reward(purchased, goal)
    r_option, option_matches = option_reward(purchased, goal["goal_options"], options)
    denominator = len(goal["attributes"]) + len(goal["goal_options"]) + 1
    reward = (attribute_matches + option_matches + r_price) / denominator * r_type["r_type"]
    if not verbose:
        return reward
    info: dict[str, Any] = dict(
        r_type,
        r_att=r_att,
        w_att=len(goal["attributes"]) / denominator,
        r_price=r_price,
        w_price=1 / denominator,
        tagger=tagger.name,
    )
    if r_option is not None:
        info.update(r_option=r_option, w_option=len(goal["goal_options"]) / denominator)
    return reward, info


# WebShop's own names, for code ported from web_agent_site.engine.goal.
get_type_reward = type_reward
get_attribute_reward = attribute_reward
get_option_reward = option_reward
get_reward = total_reward
