"""Rules of the bargaining game (no Gym here): a multi-issue split with private valuations.

Two players divide a pool of items (books, hats, balls), as in Deal or No Deal (Lewis et al., 2017).
Each player privately values each item type; the pool is worth ``total_value`` to both. Players
alternate moves:

* ``propose book=1 hat=2 ball=0`` -- the counts the *proposer* keeps; the rest goes to the other
  player. Omitted items count as 0. The short form ``propose 1 2 0`` lists every count in pool
  order. A proposal replaces any standing offer.
* ``accept`` -- accept the other player's standing offer: the game ends with that split.
* ``walk away`` -- end the game with no deal.

The outcome is verifiable: with a deal, each player scores the value of its share divided by
``total_value`` (in [0, 1]); without one, both score 0. :func:`pareto_optimal` checks a deal.
"""

from __future__ import annotations

import itertools
import re
from dataclasses import dataclass, field

import numpy as np

PLAYERS = ("player_0", "player_1")
_PAIR = re.compile(r"([A-Za-z]+)\s*[=:]\s*(-?\d+)")


@dataclass
class ScenarioConfig:
    """How bargaining scenarios are drawn (``reset(seed)`` makes the draw reproducible)."""

    item_names: tuple[str, ...] = ("book", "hat", "ball")
    """Item types in the pool (singular nouns)."""
    min_items: int = 5
    """Fewest items in the pool, all types together."""
    max_items: int = 7
    """Most items in the pool, all types together."""
    total_value: int = 10
    """What the whole pool is worth to each player."""

    def __post_init__(self) -> None:
        self.item_names = tuple(self.item_names)
        if len(self.item_names) < 2 or len(set(self.item_names)) != len(self.item_names):
            raise ValueError(f"item_names must be at least two distinct names, got {self.item_names}")
        if not len(self.item_names) <= self.min_items <= self.max_items:
            raise ValueError("need len(item_names) <= min_items <= max_items")
        if self.total_value < 2:
            raise ValueError(f"total_value must be >= 2, got {self.total_value}")


@dataclass(frozen=True)
class Scenario:
    """One draw: item counts and each player's private value per item."""

    item_names: tuple[str, ...]
    counts: tuple[int, ...]
    values: tuple[tuple[int, ...], tuple[int, ...]]
    """``values[p][i]``: what one item of type ``i`` is worth to player ``p``."""

    @property
    def total_value(self) -> int:
        return value_of(self.values[0], self.counts)

    def describe_share(self, share: tuple[int, ...]) -> str:
        return " ".join(f"{name}={n}" for name, n in zip(self.item_names, share))

    def rest(self, share: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(c - s for c, s in zip(self.counts, share))

    def shares(self) -> list[tuple[int, ...]]:
        """Every share one player can keep (the other gets the rest)."""
        return list(itertools.product(*(range(c + 1) for c in self.counts)))


def value_of(values: tuple[int, ...], share: tuple[int, ...]) -> int:
    return int(sum(v * n for v, n in zip(values, share)))


def sample_scenario(rng: np.random.Generator, config: ScenarioConfig) -> Scenario:
    """Draw counts, then two different value vectors worth ``total_value`` each.

    Every item type is worth something to at least one player, so nothing in the pool is junk to
    both, and the players' values differ, so there is something to trade.
    """
    k = len(config.item_names)
    for _ in range(1000):
        n_items = int(rng.integers(config.min_items, config.max_items + 1))
        counts = tuple(int(c) for c in 1 + rng.multinomial(n_items - k, np.ones(k) / k))
        first = _values_summing_to(rng, counts, config.total_value)
        second = _values_summing_to(rng, counts, config.total_value)
        if first is None or second is None or first == second:
            continue
        if all(first[i] + second[i] > 0 for i in range(k)):
            return Scenario(tuple(config.item_names), counts, (first, second))
    raise ValueError(f"cannot draw valuations worth {config.total_value} for {config}; raise total_value")


def _values_summing_to(
    rng: np.random.Generator, counts: tuple[int, ...], total: int
) -> tuple[int, ...] | None:
    """Uniform over integer value vectors with ``sum(v * count) == total`` (rejection sampling)."""
    highs = np.array([total // c + 1 for c in counts])
    for _ in range(2000):
        values = tuple(int(v) for v in rng.integers(0, highs))
        if value_of(values, counts) == total:
            return values
    return None


@dataclass(frozen=True)
class Action:
    """A parsed move: ``kind`` is ``propose``, ``accept`` or ``walk``."""

    kind: str
    share: tuple[int, ...] = ()


def parse_action(text: str, scenario: Scenario) -> Action | str:
    """The move named in ``text``, or a reason it is not a move."""
    words = text.strip().strip(".!").lower()
    if words in ("accept", "accept offer", "deal", "i accept"):
        return Action("accept")
    if words in ("walk away", "walk", "no deal", "walkaway"):
        return Action("walk")
    if not words.startswith("propose"):
        return f"{text.strip()[:60]!r} is not a move"
    numbers = text.strip().strip(".!").split()[1:]
    if numbers and all(re.fullmatch(r"-?\d+", n) for n in numbers):  # the short form: propose 1 0 2
        if len(numbers) != len(scenario.item_names):
            return f"the short form lists {len(scenario.item_names)} counts, one per item in pool order"
        return _proposal(dict(zip(scenario.item_names, map(int, numbers))), scenario)
    counts: dict[str, int] = {}
    for name, number in _PAIR.findall(text):
        item = _item_index(name, scenario.item_names)
        if item is None:
            return f"unknown item {name!r}; items are {', '.join(scenario.item_names)}"
        counts[scenario.item_names[item]] = int(number)
    if not counts:
        return "a proposal lists what you keep, e.g. " + _example(scenario)
    return _proposal(counts, scenario)


def _proposal(counts: dict[str, int], scenario: Scenario) -> Action | str:
    share = tuple(counts.get(name, 0) for name in scenario.item_names)
    for name, n, available in zip(scenario.item_names, share, scenario.counts):
        if not 0 <= n <= available:
            return f"you can keep 0 to {available} {name}(s), not {n}"
    return Action("propose", share)


def _item_index(name: str, item_names: tuple[str, ...]) -> int | None:
    name = name.lower()
    for index, item in enumerate(item_names):
        if name in (item, item + "s", item + "es"):
            return index
    return None


def _example(scenario: Scenario) -> str:
    return "propose " + scenario.describe_share(tuple(c // 2 for c in scenario.counts))


@dataclass
class Negotiation:
    """The state of one game: whose offer stands, and how it ended."""

    scenario: Scenario
    offer: tuple[int, int, tuple[int, ...]] | None = None
    """The standing offer: (proposer, receiver, share the *receiver* gets)."""
    deal: tuple[tuple[int, ...], tuple[int, ...]] | None = None
    """Each player's share once an offer was accepted."""
    ended: bool = False
    transcript: list[str] = field(default_factory=list)

    def apply(self, player: int, action: Action) -> str | None:
        """Play ``action`` for ``player``; returns an error (and changes nothing) if it is not allowed."""
        if self.ended:
            return "the game is over"
        name = PLAYERS[player]
        if action.kind == "accept":
            if self.offer is None or self.offer[1] != player:
                return "there is no offer from the other player to accept"
            share = self.offer[2]
            self.deal = (
                (share, self.scenario.rest(share)) if player == 0 else (self.scenario.rest(share), share)
            )
            self.ended = True
            self.transcript.append(f"{name} accepts.")
        elif action.kind == "walk":
            self.ended = True
            self.transcript.append(f"{name} walks away: no deal.")
        else:
            self.offer = (player, 1 - player, self.scenario.rest(action.share))
            self.transcript.append(
                f"{name} proposes to keep {self.scenario.describe_share(action.share)} "
                f"(the other player gets {self.scenario.describe_share(self.offer[2])})."
            )
        return None

    def play(self, player: int, text: str) -> str | None:
        """Read a move from ``text`` (:func:`parse_action`) and :meth:`apply` it; returns any error."""
        action = parse_action(text, self.scenario)
        return action if isinstance(action, str) else self.apply(player, action)

    def score(self, player: int) -> float:
        """Normalised value of ``player``'s share: 0 without a deal."""
        if self.deal is None:
            return 0.0
        return value_of(self.scenario.values[player], self.deal[player]) / self.scenario.total_value

    def offer_for(self, player: int) -> tuple[int, ...] | None:
        """The share ``player`` would get by accepting, if an offer to it stands."""
        return self.offer[2] if self.offer is not None and self.offer[1] == player else None

    def outcome_text(self) -> str:
        if self.deal is None:
            return "No deal: neither player gets anything."
        parts = [f"{PLAYERS[p]} gets {self.scenario.describe_share(self.deal[p])}" for p in (0, 1)]
        return "Deal reached. Final allocation: " + "; ".join(parts) + "."


def pareto_optimal(scenario: Scenario, share_0: tuple[int, ...]) -> bool:
    """No other split is at least as good for both players and strictly better for one."""
    mine = value_of(scenario.values[0], share_0)
    theirs = value_of(scenario.values[1], scenario.rest(share_0))
    for other in scenario.shares():
        a = value_of(scenario.values[0], other)
        b = value_of(scenario.values[1], scenario.rest(other))
        if a >= mine and b >= theirs and (a > mine or b > theirs):
            return False
    return True
