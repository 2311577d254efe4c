"""WebShop's page state machine and what each page shows.

Pages and their clickables, as in WebShop's site:

* **search**: a search box (``search[keywords]``), nothing to click;
* **results**: ``Back to Search``, ``< Prev`` (after page 1), ``Next >`` (while more hits remain),
  and the ASIN of each of the 10 products of the current page (of the top 50 hits);
* **item**: ``Back to Search``, ``< Prev`` (to the results page it came from), one clickable per
  option value, ``Description``, ``Features``, ``Reviews`` (``Attributes`` when shown) and
  ``Buy Now``;
* **sub page** (description, features, reviews, attributes): ``Back to Search`` and ``< Prev``
  (to the item page, options kept);
* **done**: after ``Buy Now``; the episode is over.

Clicks are case-insensitive. Options are reset whenever a results page is shown, as on the site.
An action that is not allowed leaves the state untouched and explains why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from agentrl.envs.webshop.shop import Shop

BACK_TO_SEARCH = "Back to Search"
NEXT_PAGE = "Next >"
PREV_PAGE = "< Prev"
BUY_NOW = "Buy Now"
SUB_PAGES = ("Description", "Features", "Reviews", "Attributes")
PRODUCT_WINDOW = 10
_ACTION = re.compile(r"^\s*(search|click)\s*\[(.*)\]\s*$", re.IGNORECASE | re.DOTALL)


# ------------------------------------------------------------------ page elements
@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Button:
    label: str


@dataclass(frozen=True)
class ProductLink:
    asin: str


@dataclass(frozen=True)
class OptionGroup:
    name: str
    values: tuple[str, ...]
    selected: str | None = None


@dataclass(frozen=True)
class SearchBox:
    pass


Element = Text | Button | ProductLink | OptionGroup | SearchBox


@dataclass(frozen=True)
class Clickable:
    """What a click name refers to: a button, a product (by position) or an option value."""

    label: str
    product: int | None = None
    option_group: str | None = None


@dataclass
class StepResult:
    valid: bool = True
    message: str = ""
    bought: bool = False
    searched: bool = False
    opened: int | None = None


@dataclass
class Browser:
    """One shopper's position on the site."""

    page: str = "search"
    keywords: str = ""
    results: list[int] = field(default_factory=list)
    results_page: int = 1
    item: int | None = None
    options: dict[str, str] = field(default_factory=dict)
    sub_page: str | None = None
    show_attributes: bool = False

    # -------------------------------------------------------------- what can be done
    def has_search_box(self) -> bool:
        return self.page == "search"

    def clickables(self, shop: Shop) -> dict[str, Clickable]:
        """Click names (lowercased) on the current page; later entries win, as on the site."""
        buttons: list[str] = []
        found: dict[str, Clickable] = {}
        if self.page == "results":
            buttons = [BACK_TO_SEARCH, *self._page_turns()]
        elif self.page == "item":
            buttons = [BACK_TO_SEARCH, PREV_PAGE, *self._sub_pages(), BUY_NOW]
        elif self.page == "sub":
            buttons = [BACK_TO_SEARCH, PREV_PAGE]
        for label in buttons:
            found[label.lower()] = Clickable(label)
        if self.page == "results":
            for position in self.page_products():
                asin = shop.products[position]["asin"]
                found[asin.lower()] = Clickable(asin, product=position)
        if self.page == "item" and self.item is not None:
            for name, values in shop.products[self.item]["options"].items():
                for value in values:
                    found[value.lower()] = Clickable(value, option_group=name)
        return found

    def available_actions(self, shop: Shop) -> list[str]:
        if self.has_search_box():
            return ["search[<keywords>]"]
        return [f"click[{c.label}]" for c in self.clickables(shop).values()]

    def _page_turns(self) -> list[str]:
        """``< Prev`` after page 1 and ``Next >`` while more hits remain (on a results page)."""
        turns = [PREV_PAGE] if self.results_page > 1 else []
        if self.results_page * PRODUCT_WINDOW < len(self.results):
            turns.append(NEXT_PAGE)
        return turns

    def _sub_pages(self) -> tuple[str, ...]:
        return SUB_PAGES if self.show_attributes else SUB_PAGES[:3]

    def page_products(self) -> list[int]:
        start = (self.results_page - 1) * PRODUCT_WINDOW
        return self.results[start : start + PRODUCT_WINDOW]

    # -------------------------------------------------------------- transitions
    def act(self, shop: Shop, action: str) -> StepResult:
        """Apply ``search[...]`` or ``click[...]``; an invalid action changes nothing."""
        match = _ACTION.match(action)
        if match is None:
            return StepResult(False, f"{action!r} is not an action; use search[keywords] or click[value]")
        verb, argument = match.group(1).lower(), match.group(2).strip()
        if verb == "search":
            return self._search(shop, argument)
        return self._click(shop, argument)

    def _search(self, shop: Shop, keywords: str) -> StepResult:
        if not self.has_search_box():
            return StepResult(False, f"there is no search box on this page; click[{BACK_TO_SEARCH}] first")
        if not keywords:
            return StepResult(False, "search[] needs keywords, e.g. search[red running shoes]")
        self.keywords = keywords.lower()
        self.results = shop.search(self.keywords)
        self._show_results(1)
        return StepResult(searched=True)

    def _show_results(self, page: int) -> None:
        self.page, self.results_page = "results", page
        self.item, self.sub_page, self.options = None, None, {}

    def _click(self, shop: Shop, name: str) -> StepResult:
        target = self.clickables(shop).get(name.lower())
        if target is None:
            where = (
                "the search page has only a search box"
                if self.page == "search"
                else f"not on this {self.page} page"
            )
            return StepResult(False, f"{name!r} cannot be clicked: {where}")
        label = target.label
        if target.product is not None:
            self.page, self.item, self.options = "item", target.product, {}
            return StepResult(opened=target.product)
        if target.option_group is not None:
            self.options[target.option_group] = label
        elif label == BACK_TO_SEARCH:
            self._back_to_search()
        elif label == NEXT_PAGE:
            self._show_results(self.results_page + 1)
        elif label == PREV_PAGE:
            self._go_back()
        elif label == BUY_NOW:
            self.page = "done"
            return StepResult(bought=True)
        elif label in SUB_PAGES:
            self.page, self.sub_page = "sub", label
        return StepResult()

    def _back_to_search(self) -> None:
        self.page, self.keywords, self.results, self.results_page = "search", "", [], 1
        self.item, self.sub_page, self.options = None, None, {}

    def _go_back(self) -> None:
        if self.page == "results":
            self._show_results(self.results_page - 1)
        elif self.page == "item":
            self._show_results(self.results_page)
        elif self.page == "sub":
            self.page, self.sub_page = "item", None

    # -------------------------------------------------------------- what is shown
    def view(self, shop: Shop, instruction: str | None) -> list[Element]:
        """The elements of the current page, top to bottom (no instruction header if ``None``)."""
        header: list[Element] = [Text("Instruction:"), Text(instruction)] if instruction is not None else []
        if self.page == "search":
            return [Text("WebShop"), *header, SearchBox()]
        if self.page == "results":
            return header + self._results_view(shop)
        assert self.item is not None
        product = shop.products[self.item]
        back: list[Element] = [Button(BACK_TO_SEARCH), Button(PREV_PAGE)]
        if self.page == "item":
            return header + back + self._item_view(product)
        if self.page == "sub":
            return header + back + _sub_page_view(product, self.sub_page or "Description")
        return header

    def _results_view(self, shop: Shop) -> list[Element]:
        elements: list[Element] = [Button(BACK_TO_SEARCH)]
        elements.append(Text(f"Page {self.results_page} (Total results: {len(self.results)})"))
        elements += [Button(label) for label in self._page_turns()]
        for position in self.page_products():
            product = shop.products[position]
            elements += [ProductLink(product["asin"]), Text(product["Title"]), Text(product["Price"])]
        return elements

    def _item_view(self, product: dict[str, Any]) -> list[Element]:
        elements: list[Element] = [
            OptionGroup(name, tuple(values), self.options.get(name))
            for name, values in product["options"].items()
        ]
        elements += [
            Text(product["Title"]),
            Text(f"Price: {product['Price']}"),
            Text(f"Rating: {product['Rating']}"),
        ]
        elements += [Button(label) for label in self._sub_pages()]
        elements.append(Button(BUY_NOW))
        return elements


def _sub_page_view(product: dict[str, Any], sub_page: str) -> list[Element]:
    if sub_page == "Description":
        return [Text(product["Description"] or "(no description)")]
    if sub_page == "Features":
        return [Text(bullet) for bullet in product["BulletPoints"] if bullet] or [
            Text("(no features listed)")
        ]
    if sub_page == "Attributes":
        return [Text(attribute) for attribute in product["Attributes"]]
    reviews = product.get("Reviews") or []
    if not reviews:
        return [Text("(no reviews yet)")]
    return [Text(f"{r.get('title', '')} ({r.get('score')}/5): {r.get('body', '')}") for r in reviews]
