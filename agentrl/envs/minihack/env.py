"""``agentrl/MiniHack-v0``: MiniHack and NetHack tasks on the real NLE engine, played in text.

``agentrl.make("agentrl/MiniHack-v0", task="KeyRoom-S5")`` plays MiniHack's ``MiniHack-KeyRoom-S5-v0``.
The observation is a language view of the screen (:mod:`.language`), BALROG's view through the NetHack
Language Wrapper (:mod:`.nle_language`), or ``{"text", "grid"}`` with a glyph (or character) crop
around the agent for neural policies. The action is text (:mod:`.actions`), limited by default to
MiniHack's own action set for the task (KeyRoom: the eight moves, ``pick up`` and its ``apply``
script); prompts an action raises are answered inside the same action (:mod:`.engine`). Subgoal
oracles (:mod:`.subgoals`) feed CALM's oracle judge and the optional CALM-style shaping.

Reward components: ``task`` (the MiniHack/NLE reward summed over the keys an action typed: +1 on the
win by default), ``format`` (the format penalty on invalid actions) and, with ``shaping=True``,
``shaping``. ``success`` is the task's own win; ``progress`` is the fraction of subgoals achieved.
:meth:`MiniHackEnv.reward_bounds` gives their range.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from gymnasium import spaces
from nle import nethack

with warnings.catch_warnings():
    warnings.filterwarnings("ignore", message="pkg_resources is deprecated")
    import minihack  # noqa: F401  -- registers the MiniHack ids; without the extra, importing fails here

from agentrl.core.config import ConfigError, check_choice
from agentrl.core.env import RewardBounds, TextEnv, TextEnvConfig, Transition
from agentrl.core.spaces import TextSpace
from agentrl.envs.minihack.actions import COMPASS_OFFSETS, ActionError, ActionSet
from agentrl.envs.minihack.engine import MAX_KEYS_PER_ACTION, Engine
from agentrl.envs.minihack.expert import NavigationExpert
from agentrl.envs.minihack.language import Cropper, LanguageRenderer, message_line
from agentrl.envs.minihack.nle_language import NLELanguage, balrog_text
from agentrl.envs.minihack.subgoals import (
    CALM_SHAPING,
    GLYPH_CLASSES,
    Frame,
    SubgoalTracker,
    build_oracles,
    oracle_classes,
    shaping_reward,
)
from agentrl.envs.minihack.tasks import CharacterNotSupported, resolve_task, stock_settings

TASK_GOALS = {
    "KeyRoom": "Pick up the key, unlock the locked door with it and open it, then reach the staircase "
    "down (>) behind it.",
    "Room": "Reach the staircase down (>) in this room.",
    "Corridor": "Find the staircase down (>): rooms are joined by corridors. Then stand on it.",
    "MazeWalk": "Find the staircase down (>) in this maze and stand on it.",
    "River": "Reach the staircase down (>) across the river. You cannot swim: push boulders into "
    "the water to make a crossing.",
    "generic": "Reach the staircase down (>).",
}
KEY_DOOR_GOAL = ("Pick up the key, then, next to the locked door, 'apply' unlocks and opens it with the key; "
                 "reach the staircase down (>) behind it.")
#: Text views: ``language`` (ours), ``message`` (the game message only), and BALROG's layouts of the
#: NetHack Language Wrapper's texts (``balrog``: its text-only prompt, ``nle_language``: its language mode).
TEXT_VIEWS = ("language", "message", "balrog", "nle_language")
_BALROG_MODES = {"balrog": "hybrid", "nle_language": "language"}
#: The eight neighbours in MiniHack's order (``get_neighbor_descriptions``: row by row from north-west).
_NEIGHBOURS = ("northwest", "north", "northeast", "west", "east", "southwest", "south", "southeast")
_NEIGHBOUR_STEPS = tuple((name, *COMPASS_OFFSETS[name]) for name in _NEIGHBOURS)
_CLOSED_DOORS = GLYPH_CLASSES["closed door"]
_BLOCK_CACHE_LIMIT = 4096
"""Entries a per-block cache may hold before it is emptied (bounds memory on long, varied games)."""


@dataclass
class MiniHackConfig(TextEnvConfig):
    max_turns: int = 100
    """Turn limit (truncation). One turn is one text action, whatever number of keys it types."""
    task: str = "KeyRoom-S5"
    """A named task (``Room-5x5``, ``KeyRoom-S5``, ``MazeWalk-9x9``, ``River`` ...; see
    ``tasks.NAMED_TASKS``) or any registered MiniHack/NLE id (``MiniHack-Eat-v0``, ``NetHackScore-v0``)."""
    action_set: str = "task"
    """``task``: MiniHack's own action set for the task (KeyRoom: the eight moves, ``pick up`` and
    ``apply``, its "unlock and open the door with the key" script; Room, MazeWalk, River: the eight
    moves); ``full``: every NetHack command of the text language."""
    observation_mode: str = "text"
    """``text``, or ``dict`` for ``{"text": str, "grid": int array (crop_size, crop_size)}``."""
    text_view: str = "language"
    """``language`` (the full description), ``message`` (only the game message: cheapest, for neural
    policies that read the grid), ``balrog`` (BALROG's prompt for text models: the NetHack Language
    Wrapper's texts and the terminal map) or ``nle_language`` (BALROG's language mode: the wrapper's
    texts with the statistics)."""
    grid: str = "glyphs"
    """What the ``grid`` crop holds: NetHack ``glyphs`` (int16, off-map = ``nle.nethack.NO_GLYPH``)
    or ``chars`` (uint8 screen characters, off-map = space)."""
    crop_size: int = 9
    """Side of the square ``grid`` crop centred on the agent (odd)."""
    map_crop: int = 0
    """Append a character map of this size around the agent to the language view (0: none; odd)."""
    show_tty: bool = False
    """Append the 24x80 terminal screen to the language view."""
    max_per_kind: int = 3
    """In ``Visible:``, how many squares of one kind are listed before ``(+N more)``."""
    subgoal_checks: list[str] | None = None
    """Subgoals to track instead of the task family's (e.g. for a custom ``des_file`` level); names
    from ``subgoals.oracle_classes()``, such as ``["pick up the key", "reach the stairs"]``."""
    shaping: bool = False
    """Add a ``shaping`` reward component for subgoals (CALM's rule-based shaping)."""
    shaping_rewards: dict[str, float] = field(default_factory=lambda: dict(CALM_SHAPING))
    """Reward per subgoal, given the first time it is achieved (CALM: key +1, first unlock +1)."""
    penalty_step: float = 0.0
    """MiniHack's penalty for a key that does not advance game time (MiniHack's own default is
    -0.01; it is 0 here because one text action may type several prompt keys)."""
    engine_step_limit: int = 0
    """The engine's own key limit (0: 32 keys per turn of ``max_turns``); reaching it truncates."""
    character: str | None = None
    """NetHack role-race-alignment-gender, e.g. ``sam-hum-law-mal`` or ``@`` (random); default: the
    task's own. Tasks that fix their character refuse it."""
    engine_options: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for the MiniHack/NLE env constructor (e.g. ``reward_win``, ``seeds``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("action_set", self.action_set, ("task", "full"))
        check_choice("observation_mode", self.observation_mode, ("text", "dict"))
        check_choice("text_view", self.text_view, TEXT_VIEWS)
        check_choice("grid", self.grid, ("glyphs", "chars"))
        if self.crop_size < 1 or self.crop_size % 2 == 0:
            raise ValueError(f"crop_size must be odd and positive, got {self.crop_size}")
        if self.map_crop < 0 or (self.map_crop and self.map_crop % 2 == 0):
            raise ValueError(f"map_crop must be 0 or odd, got {self.map_crop}")
        for key, names in (
            ("shaping_rewards", self.shaping_rewards),
            ("subgoal_checks", self.subgoal_checks or []),
        ):
            unknown = sorted(set(names) - set(oracle_classes()))
            if unknown:
                raise ValueError(f"{key} names unknown subgoals {unknown}; known: {sorted(oracle_classes())}")


class MiniHackEnv(TextEnv):
    """MiniHack/NetHack tasks on the real NLE engine, with language observations and text actions."""

    Config = MiniHackConfig
    config: MiniHackConfig

    def __init__(self, config: MiniHackConfig | Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        try:
            self.task = resolve_task(self.config.task)
        except ValueError as exc:
            raise ConfigError(f"MiniHackEnv.task: {exc}") from exc
        options = dict(self.config.engine_options)
        try:
            stock = stock_settings(self.task.env_id, options, self.config.character)
            options.update(stock.character_options)
            self.engine = Engine(
                self.task.env_id,
                max_steps=self.config.engine_step_limit or 32 * self.config.max_turns,
                penalty_step=self.config.penalty_step,
                options=options,
                stock=stock,
                minihack_prompts=self.config.action_set == "task",  # an action is the task's own step
            )
        except CharacterNotSupported as exc:
            raise ConfigError(f"MiniHackEnv.character: {exc}") from exc
        except TypeError as exc:  # an engine_options key the MiniHack/NLE constructor does not take
            raise ConfigError(f"MiniHackEnv.engine_options: {self.task.env_id} rejected them: {exc}") from exc
        task_set = self.config.action_set == "task"
        self.actions = ActionSet(stock.actions, key_door=stock.key_door) if task_set else ActionSet()
        """The text actions this env accepts (:class:`~agentrl.envs.minihack.actions.ActionSet`)."""
        self.stairs_goal = _is_stairs_goal(self.engine.env)
        oracles = build_oracles(
            self.task.family, self.task.env_id, stairs_goal=self.stairs_goal, names=self.config.subgoal_checks
        )
        self.tracker = SubgoalTracker(oracles)
        self.renderer = LanguageRenderer(
            max_per_kind=self.config.max_per_kind,
            map_size=self.config.map_crop,
            show_tty=self.config.show_tty,
        )
        if self.config.observation_mode == "dict":
            self.observation_space = spaces.Dict({"text": TextSpace(), "grid": self._grid_space()})
            grid_space = self.observation_space["grid"]
            fill = nethack.NO_GLYPH if self.config.grid == "glyphs" else ord(" ")
            self._crop = Cropper(
                (nethack.ROWNO, nethack.COLNO - 1), self.config.crop_size, fill, grid_space.dtype
            )
        self._opening = ""
        """The game's first message, shown until the first action the game takes."""
        self._last_messages: list[str] = []
        self._grid: np.ndarray | None = None
        self._listed_actions = (*self.actions.moves, *self.actions.far_moves, *self.actions.simple)
        self._available: list[str] = []
        self._available_at = -1
        self._door_sides_by_block: dict[bytes, tuple[str, ...]] = {}
        self._xy = (0, 0)
        self._position_at = -1
        self._balrog = NLELanguage() if self.config.text_view in _BALROG_MODES else None
        self._screen: dict[str, np.ndarray] = {}
        """The terminal as the last action the game took left it (BALROG's views read it)."""

    def _grid_space(self) -> spaces.Box:
        shape = (self.config.crop_size, self.config.crop_size)
        if self.config.grid == "glyphs":
            return spaces.Box(0, nethack.MAX_GLYPH, shape, dtype=np.int16)
        return spaces.Box(0, 255, shape, dtype=np.uint8)

    # ------------------------------------------------------------------ TextEnv hooks
    def reset_state(self, seed: int | None, options: Mapping[str, Any]) -> None:
        outcome = self.engine.reset(engine_seeds(self.np_random))
        self._opening = message_line(outcome.messages) if outcome.messages else ""
        self._last_messages = outcome.messages
        self._keep_screen()
        self.tracker.start(self._frame())

    def task_id_for(self, seed: int | None) -> str:
        return f"{self.task.name}-seed{seed}" if seed is not None else f"{self.task.name}-unseeded"

    def step_action(self, action: str) -> Transition:
        if self.engine.done:
            return Transition(message="(the game is over; later actions were not run)")
        parsed = self.actions.parse(action)
        if isinstance(parsed, ActionError):
            return Transition(valid=False, message=parsed.message)
        if parsed.key_door and not self.engine.key_door_ready():
            return Transition(valid=False, message=self._key_door_refusal())
        outcome = self.engine.execute(parsed)
        if outcome.error and not self.engine.done:
            return Transition(valid=False, message=outcome.error)
        engine = self.engine
        self._opening = ""
        self._last_messages = outcome.messages
        if self._balrog is not None:
            self._keep_screen()
        tracker = self.tracker
        achieved = tracker.update(self._frame()) if tracker.watching or engine.done else ()
        components = {"task": outcome.reward}
        if self.config.shaping:
            components["shaping"] = shaping_reward(achieved, self.config.shaping_rewards)
        info = {"action": parsed.text, "engine_keys": outcome.keys,
                "end_status": self._end_status() if engine.done else "RUNNING"}
        message = "" if self._balrog is not None else message_line(outcome.messages)
        # The engine's key limit is a time limit: the episode is truncated, not ended.
        aborted = engine.aborted
        return Transition(
            reward_components=components,
            terminated=engine.done and not aborted,
            truncated=aborted,
            message=message,
            subgoals=achieved,
            info=info,
        )

    def _key_door_refusal(self) -> str:
        held = self.engine.env.key_in_inventory("key") is not None
        missing = "no closed door is next to you" if held else "you hold no key"
        return f"'apply' (unlock and open the door next to you with the key) cannot be used now: {missing}"

    def _keep_screen(self) -> None:
        """Copy the terminal for BALROG's views (an invalid action's cancelled prompt must not show)."""
        if self._balrog is not None and not self.engine.done:
            obs = self.engine.obs
            self._screen = {"tty_chars": obs["tty_chars"].copy(), "tty_cursor": obs["tty_cursor"].copy()}

    def extra_info(self) -> dict[str, Any]:
        """The agent's ``position`` (x, y) while the game runs."""
        return {} if self.engine.done else {"position": self._position()}

    def _frame(self) -> Frame:
        engine = self.engine
        if engine.done:
            return Frame(engine.obs, self._last_messages, over=True, success=engine.success)
        x, y = self._position()
        return Frame(engine.obs, self._last_messages, agent=y * engine.obs["glyphs"].shape[1] + x)

    def _position(self) -> tuple[int, int]:
        """The agent's (x, y) on the map (read once per step; only while the game runs)."""
        engine = self.engine
        if self._position_at != engine.version:
            blstats = engine.obs["blstats"]
            self._xy = (blstats.item(nethack.NLE_BL_X), blstats.item(nethack.NLE_BL_Y))
            self._position_at = engine.version
        return self._xy

    def _end_status(self) -> str:
        return self.engine.env.StepStatus(self.engine.end_status).name if self.engine.done else "RUNNING"

    def render_text(self) -> str:
        """The game's state: the language view's sections (or BALROG's view of the screen), after the
        game's opening message until the first action it takes. A turn's game messages are not
        state: they come with the turn (``Transition.message``), above this text."""
        if self.engine.done:
            return f"The episode is over: {self._ending()}."
        if self._balrog is not None:
            screen = {**self.engine.obs, **self._screen}
            return balrog_text(self._balrog, screen, _BALROG_MODES[self.config.text_view])
        if self.config.text_view == "message":
            return self._opening
        state = self.renderer.render(self.engine.obs)
        return f"{self._opening}\n{state}" if self._opening else state

    def _ending(self) -> str:
        if self.engine.success:
            return "you completed the task"
        if self.engine.died:
            return "you died"
        if self.engine.aborted:
            return "the game's step limit was reached"
        return "the game ended"

    def wrap_observation(self, text: str) -> Any:
        if self.config.observation_mode == "text":
            return text
        if self.engine.done and self._grid is not None:
            return {"text": text, "grid": self._grid.copy()}  # the game's arrays are gone: last view
        x, y = self._position()
        self._grid = self._crop(self.engine.obs[self.config.grid], x, y)
        return {"text": text, "grid": self._grid}

    def progress(self) -> float:
        return 1.0 if self.engine.success else self.tracker.progress

    def is_success(self) -> bool:
        return self.engine.success

    def subgoals(self) -> list[str]:
        return list(self.tracker.names)

    def available_actions(self) -> list[str]:
        """Actions valid in the current state: the set's moves and argument-free commands (``pick
        up``, ``search``, ``wait`` where the set has them) and, next to a closed door, the door
        actions the set has (``open``/``kick <side>``; ``unlock <side>`` with a key in the full set;
        KeyRoom's ``apply`` with a key in hand). Any other valid text is accepted too."""
        engine = self.engine
        if self._available_at != engine.version:
            self._available = [*self._listed_actions, *self._door_actions()] if not engine.done else []
            self._available_at = engine.version
        return list(self._available)

    def _door_actions(self) -> list[str]:
        """Door actions toward the closed doors next to the agent, in MiniHack's neighbour order."""
        engine = self.engine
        x, y = self._position()
        sides = self._door_sides(engine.obs["glyphs"], x, y)
        if not sides:
            return []
        actions = self.actions
        found = [f"{verb} {side}" for side in sides for verb in actions.door_verbs]
        if actions.full and engine.holds("key"):
            found += [f"unlock {side}" for side in sides]
        # MiniHack's own test for its script: an inventory line containing "key" (key_in_inventory)
        if actions.key_door and b"key" in engine.obs["inv_strs"].tobytes():
            found.append("apply")
        return found

    def _door_sides(self, glyphs: np.ndarray, x: int, y: int) -> tuple[str, ...]:
        """:func:`closed_door_sides`, remembered per 3x3 glyph block around the agent (a level has
        few distinct blocks; the block is the whole input away from the map's edge)."""
        height, width = glyphs.shape
        if not (0 < x < width - 1 and 0 < y < height - 1):
            return closed_door_sides(glyphs, x, y)
        key = glyphs[y - 1 : y + 2, x - 1 : x + 2].tobytes()
        sides = self._door_sides_by_block.get(key)
        if sides is None:
            if len(self._door_sides_by_block) >= _BLOCK_CACHE_LIMIT:
                self._door_sides_by_block.clear()
            sides = self._door_sides_by_block[key] = closed_door_sides(glyphs, x, y)
        return sides

    def format_error(self, reason: str) -> str:
        return f"Invalid action: {reason}. {self.actions.forms()} {self.config.action_format.instructions()}"

    def instructions(self) -> str:
        if not self.stairs_goal:
            goal = f"Play the NetHack task {self.task.env_id}."
        elif self.actions.key_door:
            goal = KEY_DOOR_GOAL
        else:
            goal = TASK_GOALS[self.task.family]
        return (
            f"You are playing NetHack (MiniHack task {self.task.name}). {goal}\n"
            f"{VIEW_GUIDES[self.config.text_view]}\n"
            f"{self.actions.forms()}\n{self.config.action_format.instructions()}"
        )

    def reward_bounds(self) -> RewardBounds:
        """Range of the reward under this config, summed from its components.

        * ``task``: on the tasks whose engine reward is known to be bounded (MiniHack tasks without
          a reward manager, NLE's staircase task), the game's end pays once, one of ``reward_win``,
          ``reward_lose`` (death or the engine's key limit) or 0, and every key may add the time
          penalty (``penalty_step``, in the ``constant``/``always`` modes with ``penalty_time`` 0):
          at most :data:`~agentrl.envs.minihack.engine.MAX_KEYS_PER_ACTION` keys per action,
          ``action_format.max_actions`` actions per turn, the engine's key limit per episode.
          Other tasks (scores, reward managers) have no documented bound: the range is infinite.
        * ``format``: ``format_penalty`` on an invalid turn (each turn at most once).
        * ``shaping``: each tracked subgoal pays its weight once per episode, all of them possibly
          in one turn.
        """
        max_actions = self.config.action_format.max_actions
        task = self._task_reward_range(MAX_KEYS_PER_ACTION * max_actions)
        task_episode = self._task_reward_range(self.engine.max_steps)
        weights = []
        if self.config.shaping:
            weights = [self.config.shaping_rewards.get(name, 0.0) for name in self.tracker.all_names()]
        shaping = (sum(w for w in weights if w < 0), sum(w for w in weights if w > 0))
        penalty = self.config.format_penalty
        step = (task[0] + penalty + shaping[0], task[1] + shaping[1])
        episode = (
            task_episode[0] + penalty * self.config.max_turns + shaping[0],
            task_episode[1] + shaping[1],
        )
        return RewardBounds(step=step, episode=episode)

    def _task_reward_range(self, keys: int) -> tuple[float, float]:
        """Range of the ``task`` component over ``keys`` engine keys, one of them possibly ending the game."""
        rewards = self.engine.reward_rules()
        if rewards is None:
            return (-math.inf, math.inf)
        endings, penalty = rewards
        return (min(0.0, *endings) + min(0.0, penalty) * keys, max(0.0, *endings) + max(0.0, penalty) * keys)

    @classmethod
    def reward_preset(cls) -> list[dict[str, Any]]:
        """CALM's oracle subgoal credit (beta 0.2), then G-RA: the task's own reward (+1 on the win)
        gates CALM's credit, the shaping and the format penalty, so a failed episode earns none of them;
        ADS on subgoal progress; the monitor with the task reward as the truth."""
        return [
            {"type": "CALMCredit", "judge": "oracle", "beta": 0.2},
            {"type": "GatedRewardAccumulation", "priorities": {"task": 1}, "thresholds": {"task": 1.0}},
            {"type": "AutoDiscountSchedule", "progress_source": "subgoals"},
            {"type": "RewardHackingMonitor", "true_components": ["task"]},
        ]

    def expert_policy(self):
        if (
            self.config.observation_mode != "dict"
            or self.config.grid != "glyphs"
            or self.config.text_view != "language"
        ):
            raise ConfigError(
                "the MiniHack expert reads the glyph grid and the inventory: use observation_mode='dict', "
                "grid='glyphs', text_view='language' (and a crop_size that covers the level, e.g. 21)"
            )
        actions = self.actions
        return NavigationExpert(
            tag=self.config.action_format.answer_tag,
            door_commands=actions.full or bool(actions.door_verbs),
            key_door=actions.key_door,
        )

    def close(self) -> None:
        self.engine.close()
        super().close()


VIEW_GUIDES = {
    "language": "Each turn you see the game message, the notable things in view with their offset from you "
    "(north is up), your eight neighbouring squares, your status and your inventory.",
    "message": "Each turn you see the game message.",
    "balrog": "Each turn you see your inventory, the game message, a description of what is around you "
    "(from the NetHack Language Wrapper), the cursor and the terminal map.",
    "nle_language": "Each turn you see your statistics, your inventory, the game message, a description of "
    "what is around you (from the NetHack Language Wrapper) and the cursor.",
}


def closed_door_sides(glyphs: np.ndarray, x: int, y: int) -> tuple[str, ...]:
    """The sides of (x, y) whose neighbouring square shows a closed door, in MiniHack's neighbour order."""
    height, width = glyphs.shape
    return tuple(
        side
        for side, dx, dy in _NEIGHBOUR_STEPS
        if 0 <= x + dx < width and 0 <= y + dy < height and glyphs.item(y + dy, x + dx) in _CLOSED_DOORS
    )


def engine_seeds(rng: np.random.Generator) -> tuple[int, int, int]:
    """NetHack's ``(core, disp, lgen)`` seeds for an episode, drawn from the env's ``np_random``.

    ``reset(seed=s)`` plays the game of ``engine_seeds(gymnasium.utils.seeding.np_random(s)[0])``.
    """
    core, disp, lgen = (int(s) for s in rng.integers(1, 2**62, size=3))
    return core, disp, lgen


def _is_stairs_goal(env) -> bool:
    """Whether the task is won on the staircase down (MiniHack navigation, NetHackStaircase)."""
    from minihack.base import MiniHack
    from nle.env.tasks import NetHackStaircase

    if isinstance(env, MiniHack):
        return env.reward_manager is None
    return type(env)._is_episode_end is NetHackStaircase._is_episode_end
