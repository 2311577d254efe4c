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
from agentrl.core.env import TextEnv, TextEnvConfig, Transition, TurnOutcome
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
_MISSING = object()
_BL_X, _BL_Y = nethack.NLE_BL_X, nethack.NLE_BL_Y
_ACTION_CACHE_LIMIT = 4096
"""Texts whose parse ``step`` remembers (policies repeat a few actions; LLM texts rarely repeat)."""
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
        self._single_actions: dict[str, GameAction | None] = {}
        self._available_actions = TASK_ACTIONS.get(self.task.family, BASIC_ACTIONS)
        self._xy = (0, 0)
        self._position_at = -1
        self._message_view = self.config.text_view == "message"
        self._text_observation = self.config.observation_mode == "text"
        self._subgoal_names: list[str] | None = None
        self._no_subgoals: dict[str, bool] = {}

    def _grid_space(self) -> spaces.Box:
        shape = (self.config.crop_size, self.config.crop_size)
        if self.config.grid == "glyphs":
            return spaces.Box(0, nethack.MAX_GLYPH, shape, dtype=np.int16)
        return spaces.Box(0, 255, shape, dtype=np.uint8)

    # ------------------------------------------------------------------ TextEnv hooks
    def _reset_state(self, options: Mapping[str, Any]) -> None:
        outcome = self.engine.reset(engine_seeds(self.np_random))
        self._messages = outcome.messages
        self.tracker.start(self._frame())

    def _default_task_id(self, seed: int | None) -> str:
        return f"{self.task.name}-seed{seed}" if seed is not None else f"{self.task.name}-unseeded"

    def _step_action(self, action: str) -> Transition:
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
        terminated = self.engine.done and not self.engine.aborted
        return Transition(reward_components=components, terminated=terminated, subgoals=achieved, info=info)

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

    def step(self, action: str) -> tuple[Any, float, bool, bool, dict]:
        """``TextEnv.step``, with a fast path for the common turn: one action the game accepts.

        The fast path gives exactly what the general path (``TextEnv.step`` over ``_run_turn`` and
        ``_step_action``) gives: it skips re-parsing a known action text and, while the game goes
        on, the per-turn bookkeeping objects. Every other turn (bad format, several actions,
        unknown action, game over) takes the general path.
        """
        game_action = self._single_action(action)
        engine = self.engine
        if game_action is None or self._done or engine.done:
            return self._general_step(action)
        self._turn += 1
        outcome = engine.execute(game_action)
        self._messages = outcome.messages
        if outcome.error and not engine.done:
            rejected = TurnOutcome(valid=False, messages=[self._format_error(outcome.error)])
            return self._engine_limit(*self._end_turn(rejected))
        if not engine.done:
            return self._running_turn(game_action, outcome)
        components, achieved, info = self._scored(game_action, outcome)
        ended = TurnOutcome(
            components, not engine.aborted, subgoals=list(achieved), info={"actions_executed": 1, **info}
        )
        return self._engine_limit(*self._end_turn(ended))

    def _running_turn(self, game_action: GameAction, outcome: Any) -> tuple[Any, float, bool, bool, dict]:
        """The rest of ``step`` for an action the game took while the game goes on (the usual turn).

        ``TextEnv._end_turn`` and ``_info`` specialised to a valid action and a running game (no
        success, no ending, no engine abort), with the position read once.
        """
        engine = self.engine
        obs = engine.obs
        blstats = obs["blstats"]
        xy = self._xy = (blstats.item(_BL_X), blstats.item(_BL_Y))
        self._position_at = engine.version
        tracker = self.tracker
        if tracker.watching:
            achieved = tracker.update(Frame(obs, self._messages, agent=xy[1] * obs["glyphs"].shape[1] + xy[0]))
        else:
            achieved = ()
        config = self.config
        components = {"task": outcome.reward}
        if config.shaping:
            components["shaping"] = shaping_reward(achieved, config.shaping_rewards)
        components["format"] = 0.0
        self._success = False
        truncated = self._done = self._turn >= config.max_turns
        names = tracker.names
        if achieved:
            subgoals = {name: name in achieved for name in names}
        else:
            if names is not self._subgoal_names:
                self._subgoal_names, self._no_subgoals = names, dict.fromkeys(names, False)
            subgoals = self._no_subgoals.copy()
        info = {
            "reward_components": components,
            "success": False,
            "action_valid": True,
            "progress": float(self._progress()),
            "turn": self._turn,
            "invalid_actions": self._invalid_actions,
            "available_actions": self.available_actions(),
            "position": xy,
            "actions_executed": 1,
            "action": game_action.text,
            "engine_keys": outcome.keys,
            "end_status": "RUNNING",
            "subgoals": subgoals,
        }
        if self._message_view:
            text = message_line(self._messages)
        else:
            text = self.renderer.render(obs, self._messages)
        if self._text_observation:
            observation: Any = text
        else:
            self._grid = self._crop(obs[config.grid], xy[0], xy[1])
            observation = {"text": text, "grid": self._grid}
        return observation, float(sum(components.values())), False, truncated, info

    def _general_step(self, action: str) -> tuple[Any, float, bool, bool, dict]:
        return self._engine_limit(*super().step(action))

    def _engine_limit(self, observation, reward, terminated, truncated, info) -> tuple:
        """A turn's result with the engine's key limit applied: a time limit (a truncation), not an ending."""
        if self.engine.aborted and not terminated:
            truncated = self._done = True
        return observation, reward, terminated, truncated, info

    def _single_action(self, text: Any) -> GameAction | None:
        """The game action when ``text`` is one well-formed action and nothing else, else ``None``."""
        if type(text) is not str:
            return None
        found = self._single_actions.get(text, _MISSING)
        if found is _MISSING:
            parsed = self.config.action_format.parse(text)
            found = None
            if parsed.ok and len(parsed.actions) == 1 and not parsed.dropped:
                game_action = parse_action(parsed.actions[0])
                found = game_action if isinstance(game_action, GameAction) else None
            if len(self._single_actions) >= _ACTION_CACHE_LIMIT:
                self._single_actions.clear()
            self._single_actions[text] = found
        return found

    def _info(self, components: dict[str, float], *, action_valid: bool) -> dict[str, Any]:
        """``TextEnv._info`` plus the agent's ``position`` (``_running_turn`` inlines both)."""
        info = super()._info(components, action_valid=action_valid)
        if not self.engine.done:
            info["position"] = self._position()
        return info

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

    def _render_text(self) -> str:
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

    def _observation(self, text: str) -> Any:
        if self.config.observation_mode == "text":
            return text
        if self.engine.done and self._grid is not None:
            return {"text": text, "grid": self._grid.copy()}  # the game's arrays are gone: last view
        x, y = self._position()
        self._grid = self._crop(self.engine.obs[self.config.grid], x, y)
        return {"text": text, "grid": self._grid}

    def _progress(self) -> float:
        return 1.0 if self.engine.success else self.tracker.progress

    def _is_success(self) -> bool:
        return self.engine.success

    def subgoals(self) -> list[str]:
        return list(self.tracker.names)

    def available_actions(self) -> list[str]:
        return list(self._available_actions)

    def _format_error(self, reason: str) -> str:
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
