"""``agentrl/WebShop-v0``: find and buy the product that matches an instruction.

Actions: ``search[keywords]`` (on any page, as in upstream's text env) and ``click[value]`` for
any clickable of the current page (``info["available_actions"]`` lists them). ``click[Buy Now]``
on an item page ends the episode with WebShop's reward
(:func:`agentrl.envs.webshop.reward.total_reward`) as the ``purchase`` reward component and as
``info["outcome"]``; ``success`` means a perfect score of 1. Every other step is worth 0. Invalid
actions change nothing, explain themselves and cost the format penalty (upstream ignores them
silently: ``format_penalty=0`` gives its rewards).

Goals come from the generated offline catalog by default (5,000 products, synthetic goals) or from
the original WebShop files (``data_path``). ``split`` picks train, eval or test goals; ``reset``
draws a goal from it with the env's seeded RNG, weighted as upstream's server draws them, or takes
``options={"goal_index": i}``. :meth:`WebShopEnv.evaluation_tasks` lists the fixed test and eval
goals for ``agentrl eval --split``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from agentrl.core.env import RewardBounds, TextEnv, TextEnvConfig, Transition
from agentrl.envs.webshop.expert import WebShopExpert
from agentrl.envs.webshop.goals import EVALUATION_SPLITS, SPLITS, Goal
from agentrl.envs.webshop.pages import Browser, StepResult
from agentrl.envs.webshop.render import check_observation_mode, renderer
from agentrl.envs.webshop.reward import goal_option_items, option_reward, total_reward
from agentrl.envs.webshop.shop import Shop, ShopSource, open_shop
from agentrl.envs.webshop.tagger import make_tagger

SUBGOALS = ("search", "open an item of the goal type", "select the goal options", "buy")


@dataclass
class WebShopConfig(TextEnvConfig):
    max_turns: int = 15
    """Turn limit (truncation); 15 as in common WebShop agent setups."""
    observation_mode: str = "text"
    """``text`` (bracketed clickables), ``sep`` (WebShop's ``text``: ``[SEP]``-joined), ``text_rich``
    (WebShop's ``text_rich``), ``html`` or ``url`` (WebShop's ``url``: the page's address)."""
    split: str = "train"
    """Goal split: ``train``, ``eval`` or ``test`` (fixed; see ``agentrl.envs.webshop.goals``)."""
    data_path: str | None = None
    """Folder with the original WebShop files; unset uses the generated offline catalog."""
    num_products: int | None = None
    """Products to use: the generated catalog's size (default 5,000), or the first N original
    products (default all)."""
    catalog_seed: int = 0
    """Seed of the generated catalog."""
    human_goals: bool = False
    """Use WebShop's human instructions (original data only) instead of synthetic goals."""
    goal_seed: int = 0
    """Seed of the goals' price bounds and of the price paid for price ranges."""
    split_sizes: tuple[int, int] = (500, 1000)
    """Sizes of the test and eval splits; train gets the remaining goals."""
    weighted_goals: bool = True
    """Draw goals with WebShop's attribute-rarity weights, as upstream's server does when no goal is
    named (``SimServer.receive``); ``False`` draws uniformly, as the paper's RL baseline does within
    its split (``baseline_models/env.py``)."""
    show_attributes: bool = False
    """Show the Attributes view on item pages (off in WebShop by default)."""
    include_instruction: bool = True
    """Repeat the instruction at the top of every page, as the WebShop site does."""
    title_tagger: str = "auto"
    """POS tagger for the title score: ``auto``, ``spacy``, ``spacy:MODEL`` or ``heuristic``."""
    cache_dir: str | None = None
    """Where the BM25 index is cached (default ``$AGENTRL_WEBSHOP_CACHE`` or ~/.cache/agentrl/webshop)."""
    cache_index: bool = True
    """Keep the BM25 index on disk between runs."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.split_sizes = tuple(self.split_sizes)  # type: ignore[assignment]
        check_observation_mode(self.observation_mode)
        if self.split not in SPLITS:
            raise ValueError(f"split must be one of {', '.join(SPLITS)}, got {self.split!r}")

    def shop_source(self) -> ShopSource:
        return ShopSource(
            data_path=self.data_path,
            num_products=self.num_products or (None if self.data_path else 5000),
            catalog_seed=self.catalog_seed,
            human_goals=self.human_goals,
            goal_seed=self.goal_seed,
            split_sizes=self.split_sizes,
            cache_dir=self.cache_dir,
            cache_index=self.cache_index,
        )


class WebShopEnv(TextEnv):
    """Shop on a simulated e-commerce site: search, browse, choose options, buy."""

    Config = WebShopConfig
    config: WebShopConfig

    def __init__(self, config: WebShopConfig | Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        self.shop: Shop = open_shop(self.config.shop_source())
        self.tagger = make_tagger(self.config.title_tagger)
        self._render = renderer(self.config.observation_mode)
        self.browser = Browser(show_attributes=self.config.show_attributes)
        self.goal: Goal | None = None
        self.split = self.config.split
        self.goal_index = -1
        self._achieved: set[str] = set()
        self._score: float | None = None

    # ------------------------------------------------------------------ TextEnv hooks
    def reset_state(self, seed: int | None, options: Mapping[str, Any]) -> None:
        self.split = str(options.get("split", self.config.split))
        size = self.shop.goals.size(self.split)
        if "goal_index" in options:
            self.goal_index = int(options["goal_index"])
        elif self.config.weighted_goals:
            self.goal_index = int(self.np_random.choice(size, p=self.shop.goals.weights(self.split)))
        else:
            self.goal_index = int(self.np_random.integers(size))
        self.goal = self.shop.goals.goal(self.split, self.goal_index)
        self.browser = Browser(show_attributes=self.config.show_attributes)
        self._achieved = set()
        self._score = None

    def task_id_for(self, seed: int | None) -> str:
        return f"webshop-{self.split}-{self.goal_index}"

    def step_action(self, action: str) -> Transition:
        result = self.browser.act(self.shop, action)
        if not result.valid:
            return Transition(valid=False, message=result.message)
        achieved = self._new_subgoals(result)
        if not result.bought:
            return Transition(reward_components={"purchase": 0.0}, subgoals=achieved)
        return self._purchase(achieved)

    def _new_subgoals(self, result: StepResult) -> tuple[str, ...]:
        assert self.goal is not None
        reached = []
        if result.searched:
            reached.append(SUBGOALS[0])
        if result.opened is not None and self.shop.products[result.opened]["query"] == self.goal["query"]:
            reached.append(SUBGOALS[1])
        if self.browser.page == "item" and self._goal_options_selected():
            reached.append(SUBGOALS[2])
        if result.bought:
            reached.append(SUBGOALS[3])
        allowed = self.subgoals()
        fresh = tuple(name for name in reached if name in allowed and name not in self._achieved)
        self._achieved.update(fresh)
        return fresh

    def _goal_options_selected(self) -> bool:
        """The options chosen now would earn the whole option reward."""
        assert self.goal is not None
        chosen = list(self.browser.options.values())
        share, _ = option_reward(chosen, goal_option_items(self.goal["goal_options"]))
        return share == 1.0

    def _purchase(self, achieved: tuple[str, ...]) -> Transition:
        assert self.goal is not None and self.browser.item is not None
        product = self.shop.products[self.browser.item]
        price = self.shop.prices[self.browser.item]
        options = dict(self.browser.options)
        score, details = total_reward(product, self.goal, price, options, tagger=self.tagger, verbose=True)
        self._score = float(score)
        info = {
            "outcome": self._score,
            "reward_info": details,
            "purchased": {"asin": product["asin"], "options": options, "price": price},
            "goal": {
                "asin": self.goal["asin"],
                "instruction": self.goal["instruction_text"],
                "attributes": self.goal["attributes"],
                "options": self.goal["goal_options"],
                "price_upper": self.goal["price_upper"],
            },
        }
        return Transition(
            reward_components={"purchase": self._score}, terminated=True, subgoals=achieved, info=info
        )

    def render_text(self) -> str:
        if self._render is None:
            return self.browser.url(self.shop, session=str(self.session))
        if self.browser.page == "done":
            return f"Thank you for shopping with us!\nYour score (min 0.0, max 1.0): {self._score:.2f}"
        assert self.goal is not None
        show = self.config.include_instruction or self.browser.page == "search"
        return self._render(self.browser.view(self.shop, self.goal["instruction_text"] if show else None))

    @property
    def session(self) -> int:
        """The goal's position in upstream's shuffled goal list (its session number)."""
        return self.shop.goals.global_index(self.split, self.goal_index)

    def progress(self) -> float:
        if self._score is not None:
            return self._score
        return len(self._achieved) / len(self.subgoals())

    def is_success(self) -> bool:
        return self._score is not None and self._score >= 1.0 - 1e-9

    def extra_info(self) -> dict[str, Any]:
        return {"instruction": self.goal["instruction_text"]} if self.goal is not None else {}

    def reward_bounds(self) -> RewardBounds:
        """Per turn: ``[format_penalty, 1]``. A turn is worth the purchase score R in [0, 1] when it
        buys (R is a share of matched attributes, options and price times ``r_type`` <= 1, each
        count bounded by its term of the denominator), ``format_penalty`` when it is invalid (an
        invalid turn stops before any purchase) and 0 otherwise.

        Per episode: ``[max_turns * format_penalty, 1]``. At most one purchase ends the episode,
        and every other turn earns 0 or the penalty.
        """
        penalty = self.config.format_penalty
        return RewardBounds(step=(penalty, 1.0), episode=(self.config.max_turns * penalty, 1.0))

    def evaluation_tasks(self, split: str) -> list[dict[str, Any]] | None:
        """WebShop's fixed evaluation goals, each once, in order: ``test`` (goals 0..499 of the
        shuffled list, the paper's test set) or ``eval`` (the next 1,000); ``None`` otherwise."""
        if split not in EVALUATION_SPLITS:
            return None
        return [{"split": split, "goal_index": i} for i in range(self.shop.goals.size(split))]

    def evaluation_splits(self) -> list[str]:
        """``test`` and ``eval``."""
        return list(EVALUATION_SPLITS)

    @classmethod
    def reward_preset(cls) -> list[dict[str, Any]]:
        """The purchase reward is terminal; the monitor watches it (OPRL is added with ``prm=``)."""
        return [{"type": "RewardHackingMonitor"}]

    def available_actions(self) -> list[str]:
        if self.browser.page == "done":
            return []
        return self.browser.available_actions(self.shop)

    def subgoals(self) -> list[str]:
        if self.goal is not None and not self.goal["goal_options"]:
            return [name for name in SUBGOALS if name != SUBGOALS[2]]
        return list(SUBGOALS)

    def expert_policy(self):
        return WebShopExpert(tag=self.config.action_format.answer_tag)

    def instructions(self) -> str:
        return (
            "You are shopping on WebShop. Find and buy the product that best matches the instruction: "
            "its type, attributes, options and price limit.\n"
            "Actions: search[keywords] to search (from any page); click[value] to click any element shown in "
            "brackets, e.g. click[B0ABC12345] to open a product, click[black] to choose an option, "
            "click[Next >], click[< Prev], click[Back to Search], click[Description], click[Buy Now]. "
            "Buying ends the episode and scores the purchase from 0 to 1.\n"
            + self.config.action_format.instructions()
        )
