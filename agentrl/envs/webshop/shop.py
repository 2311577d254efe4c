"""A shop: products, what they cost, the search index and the goal splits, built once per process.

Every ``WebShopEnv`` with the same data settings shares one :class:`Shop` (``open_shop`` is
cached), so making eight envs for a rollout builds the catalog and loads the index once.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from agentrl.envs.webshop.catalog import Product, generate_catalog
from agentrl.envs.webshop.goals import GoalSplits, SyntheticGoals, human_goals
from agentrl.envs.webshop.original import load_original, purchase_prices
from agentrl.envs.webshop.search import BM25Index, product_document


@dataclass(frozen=True)
class ShopSource:
    """Everything that determines a shop's contents (hashable, so shops can be cached)."""

    data_path: str | None = None
    num_products: int | None = 5000
    catalog_seed: int = 0
    human_goals: bool = False
    goal_seed: int = 0
    split_sizes: tuple[int, int] = (500, 1000)
    cache_dir: str | None = None
    cache_index: bool = True


@dataclass
class Shop:
    products: Sequence[Product]
    prices: Sequence[float]
    index: BM25Index
    goals: GoalSplits
    by_asin: dict[str, int]

    def search(self, query: str) -> list[int]:
        """Positions of the top-50 products for ``query``, best first."""
        return self.index.search(query)

    def product_index(self, asin: str) -> int | None:
        return self.by_asin.get(asin.upper())


@lru_cache(maxsize=4)
def open_shop(source: ShopSource) -> Shop:
    """Build (or fetch from this process's cache) the shop described by ``source``."""
    if source.data_path:
        products = load_original(
            source.data_path, num_products=source.num_products, human_goals=source.human_goals
        )
    else:
        if source.human_goals:
            raise ValueError(
                "human_goals needs the original data (set data_path); "
                "the generated catalog has synthetic goals"
            )
        products = generate_catalog(source.num_products or 5000, source.catalog_seed)
    prices = purchase_prices(products, source.goal_seed)
    goal_list = (
        human_goals(products, prices, source.goal_seed)
        if source.human_goals
        else SyntheticGoals(products, prices, source.goal_seed)
    )
    documents = [product_document(p) for p in products]
    if source.cache_index:
        index = BM25Index.cached(documents, source.cache_dir)
    else:
        index = BM25Index.build(documents)
    test_size, eval_size = source.split_sizes
    return Shop(
        products=products,
        prices=prices,
        index=index,
        goals=GoalSplits(goal_list, test_size=test_size, eval_size=eval_size),
        by_asin={p["asin"].upper(): i for i, p in enumerate(products)},
    )
