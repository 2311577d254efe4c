"""WebShop's page state machine and what each page shows.

Pages and their clickables, as in WebShop's site (``web_agent_site/templates``) and text env
(``web_agent_site/envs/web_agent_text_env.py``):

* **search**: a search box, nothing to click;
* **results**: ``Back to Search``, ``< Prev`` (after page 1), ``Next >`` (always, as the results
  template shows it, even past the last hit) and the ASIN of each of the 10 products of the
  current page (of the top 50 hits);
* **item**: ``Back to Search``, ``< Prev`` (to the results page it came from), one clickable per
  option value, ``Description``, ``Features``, ``Reviews`` (``Attributes`` when shown) and
  ``Buy Now``;
* **sub page** (description, features, reviews, attributes): ``Back to Search`` and ``< Prev``
  (to the item page, options kept);
* **done**: after ``Buy Now``; the episode is over.

``search[keywords]`` works on every page, as in upstream's text env, whose ``step`` runs a search
whatever the page. Clicks are case-insensitive. Options are reset whenever a results page is
shown, as on the site. An action that is not allowed leaves the state untouched and explains why.

:meth:`Browser.url` gives the address upstream's simulated browser would be at (its ``url``
observation mode).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from agentrl.core.env import quote
from agentrl.envs.webshop.shop import Shop

BACK_TO_SEARCH = "Back to Search"
NEXT_PAGE = "Next >"
PREV_PAGE = "< Prev"
BUY_NOW = "Buy Now"
SUB_PAGES = ("Description", "Features", "Reviews", "Attributes")
PRODUCT_WINDOW = 10
#: The address of upstream's simulated server, the prefix of every ``url`` observation.
BASE_URL = "http://127.0.0.1:3000"
#: What ``available_actions`` lists for the search action.
SEARCH_ACTION = "search[<keywords>]"
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
    visited: bool = False
    """Opened since the last ``Back to Search`` (upstream's session ``asins``)."""


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
    visited: set[str] = field(default_factory=set)
    """ASINs opened since the last ``Back to Search``."""

    # -------------------------------------------------------------- what can be done
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
        """The clicks of this page, then the search action (valid on every page)."""
        return [f"click[{c.label}]" for c in self.clickables(shop).values()] + [SEARCH_ACTION]

    def _page_turns(self) -> list[str]:
        """``< Prev`` after page 1, then ``Next >``, which the results template always shows."""
        return [PREV_PAGE, NEXT_PAGE] if self.results_page > 1 else [NEXT_PAGE]

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
            return StepResult(
                False, f"{quote(action)} is not an action; use search[keywords] or click[value]"
            )
        verb, argument = match.group(1).lower(), match.group(2).strip()
        if verb == "search":
            return self._search(shop, argument)
        return self._click(shop, argument)

    def _search(self, shop: Shop, keywords: str) -> StepResult:
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
            return StepResult(False, f"{quote(name)} cannot be clicked: {where}")
        label = target.label
        if target.product is not None:
            self.page, self.item, self.options = "item", target.product, {}
            self.visited.add(label.upper())
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
        self.visited = set()

    def _go_back(self) -> None:
        if self.page == "results":
            self._show_results(self.results_page - 1)
        elif self.page == "item":
            self._show_results(self.results_page)
        elif self.page == "sub":
            self.page, self.sub_page = "item", None

    # -------------------------------------------------------------- where it is
    def url(self, shop: Shop, session: str) -> str:
        """The address upstream's ``SimServer`` gives the current page (its ``url`` observation).

        Keywords are the search's words joined by ``+``; item pages carry the chosen options as
        JSON and sub and done pages as a Python dict, exactly as upstream formats them.
        """
        keywords = "+".join(self.keywords.split(" "))
        asin = shop.products[self.item]["asin"].upper() if self.item is not None else None
        if self.page == "results":
            return f"{BASE_URL}/search_results/{session}/{keywords}/{self.results_page}"
        if self.page == "item":
            options = json.dumps(self.options)
            return f"{BASE_URL}/item_page/{session}/{asin}/{keywords}/{self.results_page}/{options}"
        if self.page == "sub":
            return (f"{BASE_URL}/item_sub_page/{session}/{asin}/{keywords}/{self.results_page}/"
                    f"{self.sub_page}/{self.options}")
        if self.page == "done":
            return f"{BASE_URL}/done/{session}/{asin}/{self.options}"
        return f"{BASE_URL}/{session}"

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
            link = ProductLink(product["asin"], visited=product["asin"].upper() in self.visited)
            elements += [link, Text(product["Title"]), Text(product["Price"])]
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
    if sub_page == "Attributes":  # upstream's attributes_page.html: the list, then the type fields
        return [Text(attribute) for attribute in product["Attributes"]] + [
            Text(product[key]) for key in ("category", "query", "product_category")
        ]
    reviews = product.get("Reviews") or []
    if not reviews:
        return [Text("(no reviews yet)")]
    return [Text(f"{r.get('title', '')} ({r.get('score')}/5): {r.get('body', '')}") for r in reviews]
