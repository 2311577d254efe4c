"""The offline catalog: deterministic generated products in WebShop's record format.

``generate_catalog(n, seed)`` draws ``n`` products spread evenly over the 30 product types of
:mod:`~agentrl.envs.webshop.catalog_data` (five categories, 30 distinct category paths). Each
product has a brand and model, a title built from its type noun and attributes, a description,
bullet points, an attribute list, option groups (colour, size, flavour, scent, capacity,
style...), a price, reviews and a rating, plus a synthetic instruction with the attributes it
names (what ``items_ins_v2.json`` holds in the original data). One attribute per product is left
out of ``Attributes`` and appears only in the bullet points, as in real listings, so goals that
name it are matched through the text, as the reward allows.

The same ``(n, seed)`` gives the same catalog on every machine (only :class:`random.Random` is
used), and the first ``n`` products of a larger catalog with the same seed are not the same
products: use one size per experiment.
"""

from __future__ import annotations

import random
import string
from typing import Any

from agentrl.envs.webshop.catalog_data import (
    BRAND_HEADS,
    BRAND_TAILS,
    MODEL_WORDS,
    PRODUCT_TYPES,
    REVIEW_TEMPLATES,
    ProductType,
)

Product = dict[str, Any]
"""A product record with WebShop's keys: asin, name, Title, Description, BulletPoints, Attributes,
options, pricing, Price, query, category, product_category, Reviews, Rating (and, for generated
or ``items_ins_v2`` data, instruction_text and instruction_attributes)."""

_ASIN_CHARS = string.digits + string.ascii_uppercase
_INSTRUCTION_TEMPLATES = (
    "i am looking for {noun} that is {attrs}",
    "i need {attrs} {query}",
    "i want to buy {query} which are {attrs}",
    "find me {attrs} {query}",
    "i'm looking for a {noun}, it should be {attrs}",
)
_BULLET_TEMPLATES = (
    "{Attr}: designed with care for {use}",
    "{Attr} - you will notice the difference from the first day",
    "{Attr} and built to last, backed by our satisfaction promise",
)


def _join_phrases(phrases: list[str]) -> str:
    return phrases[0] if len(phrases) == 1 else ", ".join(phrases[:-1]) + " and " + phrases[-1]


def _asin(rng: random.Random, taken: set[str]) -> str:
    while True:
        asin = "B0" + "".join(rng.choice(_ASIN_CHARS) for _ in range(8))
        if asin not in taken:
            taken.add(asin)
            return asin


def _options(rng: random.Random, kind: ProductType) -> dict[str, list[str]]:
    if rng.random() < 0.1:  # some listings have no options at all
        return {}
    options = {}
    for name, values in kind.options:
        k = rng.randint(min(2, len(values)), min(5, len(values)))
        chosen = set(rng.sample(values, k))
        options[name] = [value for value in values if value in chosen]
    return options


def _title(rng: random.Random, brand: str, noun: str, attrs: list[str]) -> str:
    model = rng.choice(MODEL_WORDS)
    shown = [attr.title() for attr in attrs[:2]]
    if rng.random() < 0.5:
        return f"{brand} {model} {noun} - {', '.join(shown)}"
    return f"{brand} {shown[0]} {noun}, {model} Edition" + (f", {shown[1]}" if len(shown) > 1 else "")


def _reviews(rng: random.Random, kind: ProductType, noun: str, attrs: list[str]) -> list[dict[str, Any]]:
    reviews = []
    for title, score, body in rng.sample(REVIEW_TEMPLATES, rng.randint(0, 3)):
        fill = {
            "noun": noun.lower(),
            "attr": rng.choice(attrs),
            "use": rng.choice(kind.uses or ("daily use",)),
        }
        reviews.append({"title": title.format(**fill), "score": score, "body": body.format(**fill)})
    return reviews


def _instruction(rng: random.Random, kind: ProductType, noun: str, attrs: list[str]) -> tuple[str, list[str]]:
    wanted = rng.sample(attrs, rng.randint(1, min(3, len(attrs))))
    template = rng.choice(_INSTRUCTION_TEMPLATES)
    text = template.format(noun=noun.lower(), query=kind.query, attrs=_join_phrases(wanted))
    return text, wanted


def make_product(rng: random.Random, kind: ProductType, asin: str) -> Product:
    """One product of type ``kind`` (all randomness from ``rng``)."""
    brand = rng.choice(BRAND_HEADS) + rng.choice(BRAND_TAILS)
    noun = rng.choice(kind.nouns)
    attrs = rng.sample(kind.attributes, rng.randint(3, 5))
    use = rng.choice(kind.uses or ("daily use",))
    title = _title(rng, brand, noun, attrs)
    bullets = [rng.choice(_BULLET_TEMPLATES).format(Attr=attr.capitalize(), use=use) for attr in attrs]
    description = (
        f"The {brand} {noun.lower()} is made for {use}. It features {_join_phrases(attrs[:2])}, "
        "so you can rely on it every day. Each item is checked before it ships."
    )
    reviews = _reviews(rng, kind, noun, attrs)
    price = round(rng.randint(int(kind.price[0]), int(kind.price[1])) + rng.choice((0.99, 0.49, 0.95)), 2)
    instruction, instruction_attributes = _instruction(rng, kind, noun, attrs)
    return {
        "asin": asin,
        "name": title,
        "Title": title,
        "Description": description,
        "BulletPoints": bullets,
        "Attributes": attrs[:-1],  # the last one is only in the bullet points
        "options": _options(rng, kind),
        "pricing": [price],
        "Price": f"${price}",
        "query": kind.query,
        "category": kind.category,
        "product_category": " › ".join(kind.path),
        "Reviews": reviews,
        "Rating": round(sum(r["score"] for r in reviews) / len(reviews), 1) if reviews else "N.A.",
        "instruction_text": instruction,
        "instruction_attributes": instruction_attributes,
    }


def generate_catalog(num_products: int = 5000, seed: int = 0) -> list[Product]:
    """``num_products`` products over every product type, in a seeded shuffled order."""
    if num_products < len(PRODUCT_TYPES):
        raise ValueError(
            f"num_products must be at least {len(PRODUCT_TYPES)} (one per type), got {num_products}"
        )
    rng = random.Random(seed)
    taken: set[str] = set()
    products = [
        make_product(rng, PRODUCT_TYPES[i % len(PRODUCT_TYPES)], _asin(rng, taken))
        for i in range(num_products)
    ]
    rng.shuffle(products)
    return products
