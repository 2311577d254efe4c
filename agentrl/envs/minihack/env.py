"""``agentrl/MiniHack-v0``: MiniHack and NetHack tasks on the real NLE engine, played in text.

``agentrl.make("agentrl/MiniHack-v0", task="KeyRoom-S5")`` plays MiniHack's ``MiniHack-KeyRoom-S5-v0``.
The observation is a language view of the screen (:mod:`.language`), or ``{"text", "grid"}`` with a
glyph (or character) crop around the agent for neural policies. The action is text
(:mod:`.actions`); prompts it raises are answered inside the same action (:mod:`.engine`). Subgoal
oracles (:mod:`.subgoals`) feed CALM's oracle judge and the optional CALM-style shaping.

Reward components: ``task`` (the MiniHack/NLE reward summed over the keys an action typed: +1 on the
win by default), ``format`` (the format penalty on invalid actions) and, with ``shaping=True``,
``shaping``. ``success`` is the task's own win; ``progress`` is the fraction of subgoals achieved.
"""

from __future__ import annotations

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
from agentrl.core.env import TextEnv, TextEnvConfig, Transition
from agentrl.core.spaces import TextSpace
from agentrl.envs.minihack.actions import COMPASS, FORMS, ActionError, GameAction, parse_action
from agentrl.envs.minihack.engine import Engine
from agentrl.envs.minihack.language import Cropper, LanguageRenderer, message_line
from agentrl.envs.minihack.subgoals import (
    CALM_SHAPING,
    Frame,
    SubgoalTracker,
    build_oracles,
    oracle_classes,
    shaping_reward,
)
from agentrl.envs.minihack.tasks import resolve_task

TASK_GOALS = {
    "KeyRoom": "Pick up the key, unlock the locked door with it (for example 'apply key west' when the "
    "door is west of you), open the door and reach the staircase down (>) behind it.",
    "Room": "Reach the staircase down (>) in this room.",
    "Corridor": "Find the staircase down (>): rooms are joined by corridors. Then stand on it.",
    "MazeWalk": "Find the staircase down (>) in this maze and stand on it.",
    "River": "Reach the staircase down (>) across the river. You cannot swim: push boulders into "
    "the water to make a crossing.",
    "generic": "Reach the staircase down (>).",
}
BASIC_ACTIONS = (*COMPASS, "pick up", "search", "wait")
#: ``available_actions()``: a fixed, task-sized action set for random and grid policies (any other
#: valid text is accepted too). KeyRoom adds what its solution needs, like MiniHack's own action set.
_SIDES = ("north", "east", "south", "west")
TASK_ACTIONS = {
    "KeyRoom": (*BASIC_ACTIONS, *(f"unlock {side}" for side in _SIDES), *(f"open {side}" for side in _SIDES)),
}


@dataclass
class MiniHackConfig(TextEnvConfig):
    max_turns: int = 100
    """Turn limit (truncation). One turn is one text action, whatever number of keys it types."""
    task: str = "KeyRoom-S5"
    """A named task (``Room-5x5``, ``KeyRoom-S5``, ``MazeWalk-9x9``, ``River`` ...; see
    ``tasks.NAMED_TASKS``) or any registered MiniHack/NLE id (``MiniHack-Eat-v0``, ``NetHackScore-v0``)."""
    observation_mode: str = "text"
    """``text``, or ``dict`` for ``{"text": str, "grid": int array (crop_size, crop_size)}``."""
    text_view: str = "language"
    """``language`` (the full description) or ``message`` (only the game message: cheapest, for
    neural policies that read the grid)."""
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
    """NetHack role-race-alignment-gender, e.g. ``sam-hum-law-mal`` (default: the task's own)."""
    engine_options: dict[str, Any] = field(default_factory=dict)
    """Extra keyword arguments for the MiniHack/NLE env constructor (e.g. ``reward_win``, ``seeds``)."""

    def __post_init__(self) -> None:
        super().__post_init__()
        check_choice("observation_mode", self.observation_mode, ("text", "dict"))
        check_choice("text_view", self.text_view, ("language", "message"))
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
        if self.config.character:
            options["character"] = self.config.character
        try:
            self.engine = Engine(
                self.task.env_id,
                max_steps=self.config.engine_step_limit or 32 * self.config.max_turns,
                penalty_step=self.config.penalty_step,
                options=options,
            )
        except TypeError as exc:  # an engine_options key the MiniHack/NLE constructor does not take
            raise ConfigError(f"MiniHackEnv.engine_options: {self.task.env_id} rejected them: {exc}") from exc
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
        self._messages: list[str] = []
        self._grid: np.ndarray | None = None
        self._available_actions = TASK_ACTIONS.get(self.task.family, BASIC_ACTIONS)
        self._xy = (0, 0)
        self._position_at = -1

    def _grid_space(self) -> spaces.Box:
        shape = (self.config.crop_size, self.config.crop_size)
        if self.config.grid == "glyphs":
            return spaces.Box(0, nethack.MAX_GLYPH, shape, dtype=np.int16)
        return spaces.Box(0, 255, shape, dtype=np.uint8)

    # ------------------------------------------------------------------ TextEnv hooks
    def reset_state(self, seed: int | None, options: Mapping[str, Any]) -> None:
        outcome = self.engine.reset(engine_seeds(self.np_random))
        self._messages = outcome.messages
        self.tracker.start(self._frame())

    def task_id_for(self, seed: int | None) -> str:
        return f"{self.task.name}-seed{seed}" if seed is not None else f"{self.task.name}-unseeded"

    def step_action(self, action: str) -> Transition:
        if self.engine.done:
            return Transition(message="(the game is over; later actions were not run)")
        parsed = parse_action(action)
        if isinstance(parsed, ActionError):
            self._messages = []  # the game said nothing: do not show the last message again
            return Transition(valid=False, message=parsed.message)
        outcome = self.engine.execute(parsed)
        self._messages = outcome.messages
        if outcome.error and not self.engine.done:
            return Transition(valid=False, message=outcome.error)
        components, achieved, info = self._scored(parsed, outcome)
        # The engine's key limit is a time limit: the episode is truncated, not ended.
        terminated = self.engine.done and not self.engine.aborted
        return Transition(reward_components=components, terminated=terminated, truncated=self.engine.aborted,
                          subgoals=achieved, info=info)

    def _scored(
        self, action: GameAction, outcome: Any
    ) -> tuple[dict[str, float], tuple[str, ...], dict[str, Any]]:
        """Reward components, subgoals achieved and info of an action the game took."""
        achieved = self.tracker.update(self._frame())
        components = {"task": outcome.reward}
        if self.config.shaping:
            components["shaping"] = shaping_reward(achieved, self.config.shaping_rewards)
        info = {"action": action.text, "engine_keys": outcome.keys, "end_status": self._end_status()}
        return components, achieved, info

    def extra_info(self) -> dict[str, Any]:
        """The agent's ``position`` (x, y) while the game runs."""
        return {} if self.engine.done else {"position": self._position()}

    def _frame(self) -> Frame:
        engine = self.engine
        if engine.done:
            return Frame(engine.obs, self._messages, over=True, success=engine.success)
        x, y = self._position()
        return Frame(engine.obs, self._messages, agent=y * engine.obs["glyphs"].shape[1] + x)

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
        if self.engine.done:
            return f"{message_line(self._messages)}\nThe episode is over: {self._ending()}."
        if self.config.text_view == "message":
            return message_line(self._messages)
        return self.renderer.render(self.engine.obs, self._messages)

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
        return list(self._available_actions)

    def format_error(self, reason: str) -> str:
        return f"Invalid action: {reason}. {FORMS} {self.config.action_format.instructions()}"

    def instructions(self) -> str:
        goal = (
            TASK_GOALS[self.task.family] if self.stairs_goal else f"Play the NetHack task {self.task.env_id}."
        )
        return (
            f"You are playing NetHack (MiniHack task {self.task.name}). {goal}\n"
            "Each turn you see the game message, the notable things in view with their offset from "
            "you (north is up), your eight neighbouring squares, your status and your inventory.\n"
            f"{FORMS}\n{self.config.action_format.instructions()}"
        )

    @classmethod
    def reward_preset(cls) -> list[dict[str, Any]]:
        """CALM's oracle subgoal credit (beta 0.2) and ADS."""
        return [
            {"type": "CALMCredit", "judge": "oracle", "beta": 0.2},
            {"type": "AutoDiscountSchedule"},
            {"type": "RewardHackingMonitor"},
        ]

    def expert_policy(self):
        from agentrl.envs.minihack.expert import NavigationExpert

        if (
            self.config.observation_mode != "dict"
            or self.config.grid != "glyphs"
            or self.config.text_view != "language"
        ):
            raise ConfigError(
                "the MiniHack expert reads the glyph grid and the inventory: use observation_mode='dict', "
                "grid='glyphs', text_view='language' (and a crop_size that covers the level, e.g. 21)"
            )
        return NavigationExpert(tag=self.config.action_format.answer_tag)

    def close(self) -> None:
        self.engine.close()
        super().close()


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
