"""``agentrl/Sokoban-v0``: push every box onto a goal.

Text legend (``symbols="grid"``, the default): ``#`` wall, ``_`` floor, ``.`` goal, ``$`` box,
``*`` box on goal, ``@`` player, ``+`` player on goal. ``symbols="ragen"`` uses RAGEN's set
(``#`` wall, ``_`` floor, ``O`` goal, ``X`` box, ``√`` box on goal, ``P`` player, ``S`` player on
goal) and ``symbols="xsb"`` the file format (space for floor).

Actions: ``Up``, ``Down``, ``Left``, ``Right`` (case-insensitive; ``U/D/L/R`` also accepted). A move
into a wall or into a box that cannot move is a valid action that changes nothing, as in
gym-sokoban. Rewards default to gym-sokoban's: -0.1 per step, +1 when a box reaches a goal, -1 when
one leaves, +10 when all are placed.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from gymnasium import spaces

from agentrl.core.config import check_choice
from agentrl.core.env import RewardBounds, TextEnv, TextEnvConfig, Transition, quote
from agentrl.core.spaces import TextSpace
from agentrl.envs.sokoban.expert import SolverPolicy
from agentrl.envs.sokoban.generator import GeneratorConfig, generate_room
from agentrl.envs.sokoban.level import DIRECTIONS, SYMBOL_SETS, Level, load_levels, render

ACTIONS = tuple(DIRECTIONS)
_ALIASES = {name.lower(): name for name in ACTIONS} | {name[0].lower(): name for name in ACTIONS}


@dataclass
class SokobanRewards:
    step: float = -0.1
    """Added on every executed move."""
    box_on_goal: float = 1.0
    """Added when a box is pushed onto a goal."""
    box_off_goal: float = -1.0
    """Added when a box is pushed off a goal."""
    finished: float = 10.0
    """Added when every box is on a goal."""


@dataclass
class SokobanConfig(TextEnvConfig):
    max_turns: int = 20
    """Turn limit (truncation)."""
    dim_room: tuple[int, int] = (6, 6)
    """Height and width of generated rooms (walls included)."""
    num_boxes: int = 1
    """Boxes (and goals) in generated rooms."""
    levels_file: str | None = None
    """An XSB file to play instead of generated rooms; ``reset(seed)`` picks level ``seed % n``
    unless ``options['level']`` names an index."""
    symbols: str = "grid"
    """Text legend: ``grid`` (default), ``ragen`` or ``xsb``."""
    observation_mode: str = "text"
    """``text``, or ``dict`` for ``{"text": str, "grid": int8 array}`` (neural policies)."""
    rewards: SokobanRewards = field(default_factory=SokobanRewards)
    min_solution_moves: int = 0
    """Only generate rooms whose optimal solution has at least this many moves (0: any room, as
    gym-sokoban; about 60% of 6x6 one-box rooms are then solvable in one or two moves)."""
    reverse_steps: int | None = None
    """Steps of each reverse-play walk of the room generator (default: 10 x (height + width))."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self.dim_room = tuple(self.dim_room)  # type: ignore[assignment]
        if len(self.dim_room) != 2 or min(self.dim_room) < 3:  # checked here so a bad value fails at make()
            raise ValueError(f"dim_room must be [height, width], each at least 3, got {list(self.dim_room)}")
        if self.num_boxes < 1:
            raise ValueError(f"num_boxes must be >= 1, got {self.num_boxes}")
        check_choice("symbols", self.symbols, tuple(sorted(SYMBOL_SETS)))
        check_choice("observation_mode", self.observation_mode, ("text", "dict"))


class SokobanEnv(TextEnv):
    """Push all boxes onto goals in a grid room (procedural or loaded from XSB)."""

    Config = SokobanConfig
    config: SokobanConfig

    def __init__(self, config: SokobanConfig | Mapping[str, Any] | None = None, **kwargs: Any):
        super().__init__(config, **kwargs)
        self._levels = load_levels(self.config.levels_file) if self.config.levels_file else None
        self.grid_shape = self._grid_shape()
        if self.config.observation_mode == "dict":
            self.observation_space = spaces.Dict(
                {"text": TextSpace(), "grid": spaces.Box(0, 6, self.grid_shape, dtype=np.int8)}
            )
        self._symbols = SYMBOL_SETS[self.config.symbols]
        self.level: Level | None = None
        self.reference_solution: list[str] | None = None
        self._level_name: str | None = None

    def _grid_shape(self) -> tuple[int, int]:
        if self._levels:
            return (max(l.shape[0] for _, l in self._levels), max(l.shape[1] for _, l in self._levels))
        return tuple(self.config.dim_room)  # type: ignore[return-value]

    # ------------------------------------------------------------------ TextEnv hooks
    def reset_state(self, seed: int | None, options: Mapping[str, Any]) -> None:
        if self._levels is not None:
            index = int(options.get("level", self.np_random.integers(len(self._levels))))
            name, self.level = self._levels[index % len(self._levels)]
            self.reference_solution = None
            self._level_name = f"{self.config.levels_file}#{name}"
            return
        if "level" in options and isinstance(options["level"], Level):
            self.level, self.reference_solution = options["level"], None
            self._level_name = "custom"
            return
        rng = random.Random(int(self.np_random.integers(2**62)))
        generator = GeneratorConfig(
            dim_room=self.config.dim_room,
            num_boxes=self.config.num_boxes,
            reverse_steps=self.config.reverse_steps,
            min_moves=self.config.min_solution_moves,
        )
        self.level, self.reference_solution = generate_room(rng, generator)
        self._level_name = None

    def task_id_for(self, seed: int | None) -> str:
        if self._level_name:
            return self._level_name
        h, w = self.config.dim_room
        return f"sokoban-{h}x{w}-b{self.config.num_boxes}-seed{seed}"

    def step_action(self, action: str) -> Transition:
        move = _ALIASES.get(action.strip().strip(".").lower())
        if move is None:
            return Transition(valid=False, message=f"{quote(action)} is not a move")
        assert self.level is not None
        before = self.level.boxes_on_goals
        self.level = self.level.move(move)
        after = self.level.boxes_on_goals
        rewards = self.config.rewards
        components = {"step": rewards.step, "box": 0.0, "finished": 0.0}
        if after > before:
            components["box"] = rewards.box_on_goal * (after - before)
        elif after < before:
            components["box"] = rewards.box_off_goal * (before - after)
        solved = self.level.solved
        if solved:
            components["finished"] = rewards.finished
        achieved = tuple(self._subgoal_name(k) for k in range(before + 1, after + 1))
        return Transition(reward_components=components, terminated=solved, subgoals=achieved)

    def render_text(self) -> str:
        assert self.level is not None
        return render(self.level, self._symbols)

    def wrap_observation(self, text: str) -> Any:
        if self.config.observation_mode == "text":
            return text
        assert self.level is not None
        grid = np.zeros(self.grid_shape, dtype=np.int8)  # pad with walls (code 0)
        g = self.level.grid()
        grid[: g.shape[0], : g.shape[1]] = g
        return {"text": text, "grid": grid}

    def progress(self) -> float:
        assert self.level is not None
        return self.level.boxes_on_goals / len(self.level.boxes)

    def is_success(self) -> bool:
        return self.level is not None and self.level.solved

    def available_actions(self) -> list[str]:
        return list(ACTIONS)

    def reward_bounds(self) -> RewardBounds:
        """Per turn: up to ``max_actions`` moves, each ``step`` plus at most one box change, plus
        ``finished`` once, or the format penalty. Per episode: net boxes placed are at most the
        number of boxes when pushing a box on and off a goal does not pay (the default)."""
        r, k, turns = self.config.rewards, self.config.action_format.max_actions, self.config.max_turns
        move_low = r.step + min(0.0, r.box_on_goal, r.box_off_goal)
        move_high = r.step + max(0.0, r.box_on_goal, r.box_off_goal)
        turn_low = k * move_low + min(0.0, self.config.format_penalty)
        turn_high = k * move_high + max(0.0, r.finished)
        boxes = max((len(level.boxes) for _, level in self._levels), default=0) if self._levels else self.config.num_boxes
        if r.box_on_goal + r.box_off_goal <= 0:
            episode_high = boxes * max(0.0, r.box_on_goal) + max(0.0, r.finished) + turns * k * max(0.0, r.step)
        else:
            episode_high = turns * turn_high
        return RewardBounds(step=(turn_low, turn_high), episode=(turns * turn_low, episode_high))

    @classmethod
    def reward_preset(cls) -> list[dict[str, Any]]:
        """CALM's subgoal credit (boxes placed), then G-RA, which gates it with every immediate reward
        on the level being solved (``finished`` is +10 exactly then), so a failed episode earns neither;
        its immediate cap keeps moves a cost (``step`` never pays in total, whatever its weight), so a
        solved episode never pays for stalling (CALM's credit is paid once per subgoal, boxes net at
        most one each at the default weights); ADS schedules the discount against the solver's
        demonstrations; the monitor checks the proxies against success with the frozen start-of-RL
        policy as reference."""
        return [
            {"type": "CALMCredit", "judge": "oracle", "beta": 1.0},
            {"type": "GatedRewardAccumulation", "priorities": {"finished": 1}, "thresholds": {"finished": 1.0},
             "immediate_cap": {"step": 0.0}},
            {"type": "AutoDiscountSchedule", "demonstrations": "expert"},
            {"type": "RewardHackingMonitor", "true_components": ["finished"]},
        ]

    def expert_policy(self):
        return SolverPolicy(self.config.symbols, tag=self.config.action_format.answer_tag)

    def subgoals(self) -> list[str]:
        n = len(self.level.boxes) if self.level is not None else self.config.num_boxes
        return [self._subgoal_name(k) for k in range(1, n + 1)]

    @staticmethod
    def _subgoal_name(k: int) -> str:
        return f"{k} box{'es' if k > 1 else ''} on goals"

    def instructions(self) -> str:
        s = self._symbols
        legend = (
            f"{s[0]} wall, {s[1] or 'space'} floor, {s[2]} goal, {s[4]} box, {s[3]} box on goal, "
            f"{s[5]} player, {s[6]} player on goal"
        )
        return (
            "You are solving Sokoban. Push every box onto a goal. You can push a box but not pull "
            "it, and you cannot push two boxes at once or push a box into a wall.\n"
            f"Legend: {legend}.\nMoves: Up, Down, Left, Right. "
            + self.config.action_format.instructions()
        )

