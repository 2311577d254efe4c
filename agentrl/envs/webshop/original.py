"""Loader for the original WebShop data files.

Point ``data_path`` at a folder holding WebShop's ``data/`` files (or pass the product file
itself):

* ``items_shuffle.json`` or ``items_shuffle_1000.json``: the products (required);
* ``items_ins_v2.json`` or ``items_ins_v2_1000.json``: attributes and synthetic instructions
  per ASIN (required);
* ``items_human_ins.json``: human instructions (required for ``human_goals=True``);
* ``reviews.json``: reviews and ratings (optional).

Records are cleaned exactly as WebShop's ``load_products`` does: ASINs that are ``nan`` or longer
than 10 characters and duplicates are skipped; ``Title`` is ``name``, ``Description`` is
``full_description``, ``BulletPoints`` is ``small_description`` as a list; prices are parsed
from the ``pricing`` string (``$a`` or ``$a ... $b``, no price means $100); option names and
values are lowercased and ``/`` in values becomes `` | ``; products without attributes get
``["DUMMY_ATTR"]``; the query is lowercased. A price range is paid at a seeded uniform draw
inside the range (WebShop draws it unseeded).
"""

from __future__ import annotations

import json
import random
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from agentrl.envs.webshop.catalog import Product

PRODUCT_FILES = ("items_shuffle.json", "items_shuffle_1000.json")
ATTRIBUTE_FILES = ("items_ins_v2.json", "items_ins_v2_1000.json")
HUMAN_GOALS_FILE = "items_human_ins.json"
REVIEWS_FILE = "reviews.json"


def _first_existing(folder: Path, names: tuple[str, ...], what: str) -> Path:
    for name in names:
        if (folder / name).is_file():
            return folder / name
    present = ", ".join(sorted(p.name for p in folder.glob("*.json"))) or "no .json files"
    expected = ", ".join(names)
    raise FileNotFoundError(f"no {what} file in {folder}: expected one of {expected}; found {present}")


def _read_json(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)


def parse_pricing(pricing: str | None) -> tuple[list[float], str]:
    """(prices, price tag) from WebShop's pricing string, e.g. ``"$12.99"`` or ``"$5.0 - $9.5"``."""
    if not pricing:
        return [100.0], "$100.0"
    prices = [float(Decimal(re.sub(r"[^\d.]", "", part))) for part in pricing.split("$")[1:]]
    if len(prices) == 1:
        return prices, f"${prices[0]}"
    return prices[:2], f"${prices[0]} to ${prices[1]}"


def _options(customization: dict[str, Any] | None) -> dict[str, list[str]]:
    options: dict[str, list[str]] = {}
    for name, contents in (customization or {}).items():
        if contents is None:
            continue
        options[name.lower()] = [c["value"].strip().replace("/", " | ").lower() for c in contents]
    return options


def _clean(
    raw: dict[str, Any], attributes: dict[str, Any], reviews: dict[str, Any], human: dict[str, Any] | None
) -> Product:
    asin = raw["asin"]
    pricing, price_tag = parse_pricing(raw.get("pricing"))
    bullets = raw.get("small_description")
    review_entry = reviews.get(asin, {})
    listing = attributes.get(asin, {})
    product = {
        "asin": asin,
        "name": raw["name"],
        "Title": raw["name"],
        "Description": raw.get("full_description") or "",
        "BulletPoints": bullets if isinstance(bullets, list) else [bullets or ""],
        "Attributes": listing.get("attributes") or ["DUMMY_ATTR"],
        "options": _options(raw.get("customization_options")),
        "pricing": pricing,
        "Price": price_tag,
        "query": raw["query"].lower().strip(),
        "category": raw["category"],
        "product_category": raw["product_category"],
        "Reviews": [_review(r) for r in review_entry.get("reviews", [])],
        "Rating": review_entry.get("average_rating", "N.A."),
        "MainImage": (raw.get("images") or [None])[0],
    }
    if human is not None:
        product["instructions"] = human.get(asin) or []
    else:
        product["instruction_text"] = listing.get("instruction")
        product["instruction_attributes"] = listing.get("instruction_attributes")
    return product


def _review(review: dict[str, Any]) -> dict[str, Any]:
    return {
        "title": review.get("title", ""),
        "score": review.get("score", review.get("stars")),
        "body": review.get("body", review.get("review", "")),
    }


def load_original(
    path: str | Path, *, num_products: int | None = None, human_goals: bool = True
) -> list[Product]:
    """Products from WebShop's files under ``path`` (a folder, or the product file itself)."""
    path = Path(path).expanduser()
    folder = path.parent if path.is_file() else path
    if not folder.is_dir():
        raise FileNotFoundError(f"WebShop data path {path} does not exist")
    products_file = path if path.is_file() else _first_existing(folder, PRODUCT_FILES, "product")
    attributes = _read_json(_first_existing(folder, ATTRIBUTE_FILES, "attribute"))
    human = _read_json(_first_existing(folder, (HUMAN_GOALS_FILE,), "human goal")) if human_goals else None
    reviews = {}
    if (folder / REVIEWS_FILE).is_file():
        reviews = {entry["asin"]: entry for entry in _read_json(folder / REVIEWS_FILE)}
    raw_products = _read_json(products_file)
    if num_products is not None:
        raw_products = raw_products[:num_products]
    seen: set[str] = set()
    products = []
    for raw in raw_products:
        asin = raw.get("asin", "nan")
        if asin == "nan" or len(asin) > 10 or asin in seen:
            continue
        seen.add(asin)
        products.append(_clean(raw, attributes, reviews, human))
    return products


def purchase_prices(products: list[Product], seed: int = 0) -> list[float]:
    """What each product costs at checkout: its price, or a seeded draw inside its price range."""
    rng = random.Random(seed)
    prices = []
    for product in products:
        pricing = product.get("pricing") or [100.0]
        prices.append(float(pricing[0]) if len(pricing) == 1 else rng.uniform(*pricing[:2]))
    return prices
