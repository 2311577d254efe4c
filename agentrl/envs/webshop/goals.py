"""Goals built with WebShop's procedures, and the fixed train/eval/test splits.

**Synthetic goals** (WebShop's ``get_synthetic_goals``): every product with an instruction yields
one goal per combination of its option values (option names sorted, values in listing order,
the last name varying fastest). The instruction becomes
``"{instruction} with {name}: {value}, and {name}: {value}, and price lower than {X:.2f} dollars"``.
The price bound ``X`` is the larger of two values drawn from the first four multiples of $10 above
the product's price; with fewer than two such multiples there is no bound (1,000,000) and no
price text. Each goal's sampling weight is the mean, over its attributes, of one over the number
of goals naming that attribute.

**Human goals** (original data only, ``items_human_ins.json``): one goal per human instruction
with at least one attribute, with the same price bound appended.

**Splits.** The goal list is shuffled with ``random.Random(233)``, as WebShop does, and cut into
test = the first 500, eval = the next 1,000 and train = the rest (WebShop's baseline split).
Both numbers are settable (``split_sizes``); the splits never overlap and never change for a
given catalog, seed and sizes.
"""

from __future__ import annotations

import bisect
import math
import random
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from agentrl.envs.webshop.catalog import Product

Goal = dict[str, Any]
"""A goal record with WebShop's keys: asin, category, query, name, product_category,
instruction_text, attributes, price_upper, goal_options, weight."""

#: The price bounds WebShop draws from: $10, $20, ..., $990.
PRICE_STEPS = tuple(10.0 * i for i in range(1, 100))
NO_PRICE_BOUND = 1_000_000.0
SPLITS = ("train", "eval", "test")
#: Splits with fixed evaluation goals, played once each in order (``WebShopEnv.evaluation_tasks``).
EVALUATION_SPLITS = ("test", "eval")
#: Seed of WebShop's goal shuffle.
SHUFFLE_SEED = 233


def price_bound(price: float, rng: random.Random) -> tuple[float, str]:
    """(upper bound, instruction suffix) for a product that costs ``price``."""
    candidates = [step for step in PRICE_STEPS if step > price][:4]
    if len(candidates) < 2:
        return NO_PRICE_BOUND, ""
    upper = max(rng.sample(candidates, 2))
    return upper, f", and price lower than {upper:.2f} dollars"


def option_text(goal_options: Mapping[str, str]) -> str:
    text = ", and ".join(f"{name}: {value}" for name, value in goal_options.items())
    return f" with {text}" if text else ""


class SyntheticGoals(Sequence[Goal]):
    """All synthetic goals of a catalog, materialised one at a time (there can be millions)."""

    def __init__(self, products: Sequence[Product], prices: Sequence[float], seed: int = 0):
        rng = random.Random(seed)
        self._products = products
        self._entries: list[tuple[int, float, str]] = []
        self._starts: list[int] = []
        total = 0
        counts: Counter[str] = Counter()
        for index, product in enumerate(products):
            if not product.get("instruction_text") or not product.get("instruction_attributes"):
                continue
            upper, text = price_bound(prices[index], rng)
            self._entries.append((index, upper, text))
            self._starts.append(total)
            combos = math.prod(len(values) for values in product["options"].values())
            total += combos
            for attribute in product["instruction_attributes"]:
                counts[attribute] += combos
        self._total = total
        self._attribute_counts = counts

    def __len__(self) -> int:
        return self._total

    def __getitem__(self, i: int) -> Goal:  # type: ignore[override]
        if not -self._total <= i < self._total:
            raise IndexError(f"goal index {i} out of range for {self._total} goals")
        i %= self._total
        entry = bisect.bisect_right(self._starts, i) - 1
        product_index, upper, price_text = self._entries[entry]
        product = self._products[product_index]
        goal_options = self._combination(product["options"], i - self._starts[entry])
        attributes = list(product["instruction_attributes"])
        return {
            "asin": product["asin"],
            "category": product["category"],
            "query": product["query"],
            "name": product["Title"],
            "product_category": product["product_category"],
            "instruction_text": f"{product['instruction_text']}{option_text(goal_options)}{price_text}",
            "attributes": attributes,
            "price_upper": upper,
            "goal_options": goal_options,
            "weight": sum(1.0 / self._attribute_counts[a] for a in attributes) / len(attributes),
        }

    @staticmethod
    def _combination(options: Mapping[str, Sequence[str]], k: int) -> dict[str, str]:
        names = sorted(options)
        chosen: dict[str, str] = {}
        for name in reversed(names):  # itertools.product order: the last name varies fastest
            k, digit = divmod(k, len(options[name]))
            chosen[name] = options[name][digit]
        return {name: chosen[name] for name in names}


def human_goals(products: Sequence[Product], prices: Sequence[float], seed: int = 0) -> list[Goal]:
    """Goals from human instructions (``product['instructions']``), WebShop's ``get_human_goals``."""
    rng = random.Random(seed)
    goals = []
    for index, product in enumerate(products):
        for instruction in product.get("instructions") or []:
            attributes = instruction.get("instruction_attributes") or []
            if not attributes:
                continue
            upper, price_text = price_bound(prices[index], rng)
            goals.append(
                {
                    "asin": product["asin"],
                    "category": product["category"],
                    "query": product["query"],
                    "name": product["name"],
                    "product_category": product["product_category"],
                    "instruction_text": instruction["instruction"].strip(".") + price_text,
                    "attributes": list(attributes),
                    "price_upper": upper,
                    "goal_options": list(instruction.get("instruction_options") or []),
                    "weight": 1.0,
                }
            )
    return goals


@dataclass
class GoalSplits:
    """A goal list with WebShop's fixed shuffle and the train/eval/test cut."""

    goals: Sequence[Goal]
    test_size: int = 500
    eval_size: int = 1000
    order: list[int] = field(init=False)
    _weights: dict[str, np.ndarray] = field(init=False, default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        needed = self.test_size + self.eval_size + 1
        if len(self.goals) < needed:
            raise ValueError(
                f"{len(self.goals)} goals cannot hold test={self.test_size} + eval={self.eval_size} "
                "+ a train split; use a larger catalog or smaller split_sizes"
            )
        self.order = list(range(len(self.goals)))
        random.Random(SHUFFLE_SEED).shuffle(self.order)

    def _bounds(self, split: str) -> tuple[int, int]:
        cut = self.test_size + self.eval_size
        bounds = {"test": (0, self.test_size), "eval": (self.test_size, cut), "train": (cut, len(self.order))}
        if split not in bounds:
            raise ValueError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
        return bounds[split]

    def size(self, split: str) -> int:
        start, stop = self._bounds(split)
        return stop - start

    def indices(self, split: str) -> list[int]:
        """Positions in ``goals`` of the goals of ``split``, in split order."""
        start, stop = self._bounds(split)
        return self.order[start:stop]

    def weights(self, split: str) -> np.ndarray:
        """Sampling probabilities of the goals of ``split`` (their ``weight``s, normalised), computed once."""
        if split not in self._weights:
            weights = np.array([self.goals[i]["weight"] for i in self.indices(split)])
            self._weights[split] = weights / weights.sum()
        return self._weights[split]

    def global_index(self, split: str, index: int) -> int:
        """The position of ``split``'s ``index``-th goal in the shuffled list: upstream's session
        number (test goal i is session i, eval goal i is session 500 + i)."""
        return self._bounds(split)[0] + index

    def goal(self, split: str, index: int) -> Goal:
        """The ``index``-th goal of ``split``."""
        start, stop = self._bounds(split)
        if not 0 <= index < stop - start:
            raise IndexError(f"goal_index {index} out of range: split {split!r} has {stop - start} goals")
        return self.goals[self.order[start + index]]
