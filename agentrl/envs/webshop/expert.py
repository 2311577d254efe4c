"""Scripted WebShop policies: the expert baseline and a random clicker.

:class:`WebShopExpert` reads only what an agent sees (the page and ``info``) and plays:

1. search with the instruction, minus its options and price clauses;
2. on a results page, open the unvisited product whose title shares the most words with the
   instruction and whose price is within the bound (or go to the next page if all were visited);
3. on an item page, go back if the price is too high or a wanted option is not offered (up to
   five products), else click each wanted option, then ``Buy Now``.

:class:`RandomShopper` searches with the instruction and then clicks uniformly at random among
the page's clickables (it never searches again): the random-clicking baseline.
"""

from __future__ import annotations

import html
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from agentrl.core.actions import extract_tag
from agentrl.core.policy import ActionOutput, PolicyInput, wrap_answer
from agentrl.envs.webshop.normalize import normalize_color
from agentrl.envs.webshop.pages import BACK_TO_SEARCH, BUY_NOW, NEXT_PAGE, PREV_PAGE, SUB_PAGES
from agentrl.envs.webshop.search import tokenize

_PRICE_CLAUSE = re.compile(r",? and price lower than ([\d.]+) dollars\s*$")
_CLICK = re.compile(r"^\s*click\s*\[(.*)\]\s*$", re.IGNORECASE | re.DOTALL)
_NUMBER = re.compile(r"\d+(?:\.\d+)?")
_FILLER = frozenset(tokenize("i am looking for i'm need want buy find me which should be that it is are"))
_NAVIGATION = {label.lower() for label in (BACK_TO_SEARCH, NEXT_PAGE, PREV_PAGE, BUY_NOW, *SUB_PAGES)}
_RICH_BUTTON = re.compile(r"^\[(?:clicked )?button\] (.*) \[(?:clicked )?button_\]$")


@dataclass
class ShoppingGoal:
    """What an instruction asks for, as far as the text tells."""

    keywords: str
    options: list[str] = field(default_factory=list)
    price_upper: float | None = None


def parse_instruction(text: str) -> ShoppingGoal:
    """Split ``"<request> with a: x, and b: y, and price lower than 30.00 dollars"``."""
    text = text.strip()
    price_upper = None
    match = _PRICE_CLAUSE.search(text)
    if match:
        price_upper, text = float(match.group(1)), text[: match.start()]
    for found in reversed(list(re.finditer(" with ", text))):
        parts = text[found.end() :].split(", and ")
        if all(": " in part for part in parts):
            return ShoppingGoal(
                text[: found.start()], [p.split(": ", 1)[1].strip() for p in parts], price_upper
            )
    return ShoppingGoal(text, [], price_upper)


def visible_strings(observation: str) -> list[str]:
    """The page's visible strings, whichever observation mode produced it."""
    if observation.lstrip().startswith(("<!DOCTYPE", "<html")):
        body = re.sub(r"<head>.*?</head>", "", observation, flags=re.DOTALL)
        return [html.unescape(s).strip() for s in re.findall(r">([^<>]+)<", body) if s.strip()]
    if " [SEP] " in observation:
        return [s.strip() for s in observation.split(" [SEP] ")]
    lines = [line.strip() for line in observation.splitlines() if line.strip()]
    if any(_RICH_BUTTON.match(line) for line in lines):  # text_rich
        return [_RICH_BUTTON.sub(r"\1", line) for line in lines if not line.startswith("You have clicked ")]
    return [line.removeprefix("[").removesuffix("]") for line in lines]


def _first_number(text: str) -> float | None:
    found = _NUMBER.search(text.replace(",", ""))
    return float(found.group()) if found else None


def _clicks(history, tag: str | None) -> list[tuple[str, bool]]:
    """(lowercased click argument, whether it was made on a results page) of earlier turns."""
    clicks = []
    for turn in history:
        action = (extract_tag(turn.action, tag) if tag else None) or turn.action
        match = _CLICK.match(action)
        if match:
            clicks.append((match.group(1).strip().lower(), "Total results:" in str(turn.observation)))
    return clicks


class WebShopExpert:
    """Observation-reading scripted shopper (see the module docstring)."""

    def __init__(self, *, max_items: int = 5, buy_by_turn: int = 11, tag: str | None = "answer"):
        self.max_items = max_items
        self.buy_by_turn = buy_by_turn
        self.tag = tag

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        return [ActionOutput(text=wrap_answer(self.choose(item), self.tag)) for item in inputs]

    def choose(self, item: PolicyInput) -> str:
        actions = item.info.get("available_actions") or []
        goal = parse_instruction(item.info.get("instruction", ""))
        clicks = [m.group(1) for m in map(_CLICK.match, actions) if m]
        lowered = {c.lower() for c in clicks}
        if not clicks:  # the search page: nothing to click
            return f"search[{goal.keywords}]"
        if BUY_NOW.lower() in lowered:
            return self._on_item(item, goal, clicks)
        if lowered <= {BACK_TO_SEARCH.lower(), PREV_PAGE.lower()}:
            return f"click[{PREV_PAGE if PREV_PAGE.lower() in lowered else BACK_TO_SEARCH}]"
        return self._on_results(item, goal, clicks)

    def _on_results(self, item: PolicyInput, goal: ShoppingGoal, clicks: list[str]) -> str:
        strings = visible_strings(str(item.observation))
        visited = {name for name, _ in _clicks(item.history, self.tag)}
        wanted = {t for t in tokenize(goal.keywords) if t not in _FILLER}
        best, best_score = None, -np.inf
        for asin in (c for c in clicks if c.lower() not in _NAVIGATION):
            at = strings.index(asin) if asin in strings else -1
            title = strings[at + 1] if 0 <= at < len(strings) - 1 else ""
            price = _first_number(strings[at + 2]) if 0 <= at < len(strings) - 2 else None
            score = len(wanted & set(tokenize(title))) / max(len(wanted), 1)
            if goal.price_upper is not None and price is not None and price > goal.price_upper:
                score -= 1.0
            if asin.lower() in visited:
                score -= 2.0
            if score > best_score:
                best, best_score = asin, score
        if best is None:
            return f"click[{BACK_TO_SEARCH}]"
        if best_score < -1.0 and NEXT_PAGE in clicks:
            return f"click[{NEXT_PAGE}]"
        return f"click[{best}]"

    def _on_item(self, item: PolicyInput, goal: ShoppingGoal, clicks: list[str]) -> str:
        history = _clicks(item.history, self.tag)
        opened = [i for i, (name, on_results) in enumerate(history) if on_results and name not in _NAVIGATION]
        since_open = {name for name, _ in history[opened[-1] + 1 :]} if opened else set()
        offered = {normalize_color(c.lower()): c for c in clicks if c.lower() not in _NAVIGATION}
        strings = visible_strings(str(item.observation))
        price = next((_first_number(s) for s in strings if s.startswith("Price:")), None)
        missing = [o for o in goal.options if normalize_color(o.lower()) not in offered]
        too_expensive = goal.price_upper is not None and price is not None and price > goal.price_upper
        items_tried = len(opened)
        if (
            (missing or too_expensive)
            and items_tried < self.max_items
            and item.info.get("turn", 0) < self.buy_by_turn
        ):
            return f"click[{PREV_PAGE}]"
        for option in goal.options:
            choice = offered.get(normalize_color(option.lower()))
            if choice is not None and choice.lower() not in since_open:
                return f"click[{choice}]"
        return f"click[{BUY_NOW}]"


class RandomShopper:
    """Searches with the instruction, then clicks uniformly among the clickables."""

    def __init__(self, *, seed: int | None = None, tag: str | None = "answer"):
        self.rng = np.random.default_rng(seed)
        self.tag = tag

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        outputs = []
        for item in inputs:
            clicks = [a for a in item.info.get("available_actions") or [] if _CLICK.match(a)]
            if not clicks:  # the search page
                action = f"search[{parse_instruction(item.info.get('instruction', '')).keywords}]"
            else:
                action = clicks[int(self.rng.integers(len(clicks)))]
            outputs.append(ActionOutput(text=wrap_answer(action, self.tag)))
        return outputs
