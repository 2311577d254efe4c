"""The Sokoban expert: a closed-loop policy that plays the solver's optimal moves."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from agentrl.core.policy import ActionOutput, PolicyInput, wrap_answer
from agentrl.envs.sokoban.level import (
    DIRECTIONS,
    SYMBOL_SETS,
    Level,
    LevelFormatError,
    level_from_grid,
    level_from_text,
)
from agentrl.envs.sokoban.solver import solve

_MOVES = tuple(DIRECTIONS)


class SolverPolicy:
    """Reads the position from the observation, solves it, and plays the first optimal move.

    Plans are cached by position, so replanning happens only when play leaves the known path
    (for example after an ``epsilon`` random move, which makes it a noisy demonstrator). In a
    position with no solution (a box stuck in a corner) it moves at random, from a seeded generator,
    so that demonstrations are reproducible.
    """

    def __init__(self, symbols: str = "grid", *, max_nodes: int = 200_000, epsilon: float = 0.0,
                 seed: int = 0, tag: str | None = "answer"):
        self.symbols = SYMBOL_SETS[symbols]
        self.max_nodes = max_nodes
        self.epsilon = epsilon
        self.rng = np.random.default_rng(seed)
        self.tag = tag
        self._plan: dict[Level, str] = {}

    def next_move(self, level: Level) -> str | None:
        if level not in self._plan:
            result = solve(level, max_nodes=self.max_nodes)
            if not result.solved:
                return None
            position = level
            for move in result.moves or []:
                self._plan[position] = move
                position = position.move(move)
        return self._plan.get(level)

    def _level(self, observation) -> Level:
        if isinstance(observation, dict) and "grid" in observation:
            return level_from_grid(observation["grid"])
        return level_from_text(observation if isinstance(observation, str) else observation["text"], self.symbols)

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        outputs = []
        for item in inputs:
            try:
                move = self.next_move(self._level(item.observation))
            except LevelFormatError:
                move = None
            if move is None or (self.epsilon and self.rng.random() < self.epsilon):
                move = _MOVES[int(self.rng.integers(len(_MOVES)))]
            outputs.append(ActionOutput(text=wrap_answer(move, self.tag)))
        return outputs
