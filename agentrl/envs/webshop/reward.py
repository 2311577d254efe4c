"""WebShop's purchase reward, as upstream computes it, as importable functions.

This follows ``web_agent_site/engine/goal.py`` of princeton-nlp/WebShop (MIT licence) rule for
rule. Records are plain dicts with WebShop's keys (so files from the original dataset work as-is):

* a *product* has ``Title``, ``BulletPoints`` (list), ``Description``, ``Attributes`` (list),
  ``query``, ``product_category`` (levels joined by ``›``) and ``name`` (the title);
* a *goal* has ``attributes`` (list), ``goal_options`` (a dict for synthetic goals, a list of
  values for human goals), ``price_upper``, ``query``, ``product_category`` and ``name`` (the
  target product's title).

The total is::

    R = (attribute matches + option matches + [price <= price_upper])
        / (len(goal attributes) + len(goal options) + 1) * r_type

Every count is bounded by its denominator term, so ``0 <= R <= 1``. Option matches are counted
over the *goal's* options, each at most once (see :func:`option_reward`).

The functions also go by upstream's names, with upstream's signatures: :func:`get_type_reward`,
:func:`get_attribute_reward`, :func:`get_option_reward` and :func:`get_reward`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from agentrl.envs.webshop.normalize import normalize_color, token_set_ratio
from agentrl.envs.webshop.tagger import NounTagger, make_tagger

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


GoalOption = str | tuple[str, str]
"""A wanted option: a value (human goals) or a ``(name, value)`` pair (synthetic goals)."""


def goal_option_items(goal_options: Sequence[str] | Mapping[str, str]) -> list[GoalOption]:
    """The goal's wanted options as upstream's ``get_reward`` hands them to the option reward:
    a synthetic goal's ``{name: value}`` as its ``(name, value)`` pairs, a human goal's list as is."""
    return list(goal_options.items() if isinstance(goal_options, Mapping) else goal_options)


def option_reward(
    purchased_options: Sequence[str], goal_options: Sequence[GoalOption]
) -> tuple[float | None, int]:
    """(share of goal options matched, or ``None`` without goal options; number matched).

    Upstream's ``get_option_reward(purchased_options, goal_options)``: both sides are
    colour-normalised, then each *goal* option counts once when some purchased value has a
    token-set ratio above 85 with it. Purchased options the goal does not ask for earn nothing,
    so the share never exceeds 1.

    A ``(name, value)`` pair is normalised as upstream's tuple is: it becomes a colour only when
    one of its two strings *is* that colour (``in`` on a tuple tests equality, so ``("color",
    "black")`` becomes ``"black"`` but ``("color", "navy blue")`` stays a pair), and a pair is
    compared as its text, ``"('color', 'navy blue')"``, which the fuzzy processing reads as
    ``color navy blue``: the option's name takes part in the match.
    """
    purchased = [normalize_color(value) for value in purchased_options]
    wanted = [normalize_color(option) for option in goal_options]
    matches = sum(
        any(token_set_ratio(have, option) > FUZZY_THRESHOLD for have in purchased) for option in wanted
    )
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
    r_option, option_matches = option_reward(list(options.values()), goal_option_items(goal["goal_options"]))
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


# Upstream's names and signatures, for code ported from web_agent_site.engine.goal.
get_type_reward = type_reward
get_attribute_reward = attribute_reward
get_option_reward = option_reward


def get_reward(
    purchased_product: Mapping[str, Any], goal: Mapping[str, Any], price: float, options: Mapping[str, str],
    **kwargs: Any,
) -> float | tuple[float, dict[str, Any]]:
    """Upstream's ``get_reward(purchased_product, goal, price, options, **kwargs)``: ``verbose=True``
    returns ``(R, info)``; ``tagger=`` picks the title tagger; other keywords are ignored, as upstream
    ignores them."""
    tagger, verbose = kwargs.get("tagger"), bool(kwargs.get("verbose"))
    return total_reward(purchased_product, goal, price, options, tagger=tagger, verbose=verbose)
