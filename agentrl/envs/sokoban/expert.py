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

    Every choice is a function of the episode alone, never of how many episodes are played at once or
    in which order (so SFT demonstrations do not change with ``rl.num_envs``): each episode follows
    its own plan, replanned only when play leaves it (for example after an ``epsilon`` random move,
    which makes it a noisy demonstrator); solutions are shared between episodes by exact position,
    which is deterministic. In a position with no solution (a box stuck in a corner) it moves at
    random, from a generator seeded by ``(seed, episode key, turn)``.
    """

    def __init__(self, symbols: str = "grid", *, max_nodes: int = 200_000, epsilon: float = 0.0,
                 seed: int = 0, tag: str | None = "answer"):
        self.symbols = SYMBOL_SETS[symbols]
        self.max_nodes = max_nodes
        self.epsilon = epsilon
        self.seed = seed
        self.tag = tag
        self._solutions: dict[Level, tuple[str, ...] | None] = {}
        self._plans: dict[int, dict[Level, str]] = {}
        """Per episode key: the move to play in each position of the plan it follows."""

    def next_move(self, level: Level, episode_key: int = 0) -> str | None:
        if episode_key not in self._plans and len(self._plans) >= 100_000:
            self._plans.clear()
        plan = self._plans.setdefault(episode_key, {})
        if level not in plan:
            moves = self._solution(level)
            if moves is None:
                return None
            plan.clear()  # play left the old plan: follow the new one
            position = level
            for move in moves:
                plan[position] = move
                position = position.move(move)
        return plan.get(level)

    def _solution(self, level: Level) -> tuple[str, ...] | None:
        if level not in self._solutions:
            if len(self._solutions) >= 100_000:  # a long-lived expert: bound the memory
                self._solutions.clear()
            result = solve(level, max_nodes=self.max_nodes)
            self._solutions[level] = tuple(result.moves or ()) if result.solved else None
        return self._solutions[level]

    def _level(self, observation) -> Level:
        if isinstance(observation, dict) and "grid" in observation:
            return level_from_grid(observation["grid"])
        return level_from_text(observation if isinstance(observation, str) else observation["text"], self.symbols)

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        outputs = []
        for item in inputs:
            turn = len(item.history)
            if turn == 0:
                self._plans.pop(item.episode_key, None)  # a new episode under this key
            try:
                move = self.next_move(self._level(item.observation), item.episode_key)
            except LevelFormatError:
                move = None
            rng = np.random.default_rng((self.seed, item.episode_key, turn))
            if move is None or (self.epsilon and rng.random() < self.epsilon):
                move = _MOVES[int(rng.integers(len(_MOVES)))]
            outputs.append(ActionOutput(text=wrap_answer(move, self.tag)))
        return outputs
