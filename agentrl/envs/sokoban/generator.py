"""Procedural Sokoban rooms by reverse play, solvable by construction.

1. Carve a room topology with a random walk (direction changes with probability ``p_turn``).
2. Put boxes on goals, and the player on a free floor cell: a solved position.
3. Play backwards: the player walks at random and, with probability ``p_pull``, pulls the box behind
   it. Every pull is the exact reverse of a legal push, so the reversed history is a solution of
   the final position: every room returned is solvable.
4. Optionally (``min_moves``), reject rooms whose optimal solution is shorter than a bound, so that
   random play rarely solves them.
5. Over ``attempts`` reverse walks, keep the position with gym-sokoban's score (how often the
   pulled box changed x total box displacement); positions with a box still on a goal are
   rejected, so no room starts partly solved.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import numpy as np

from agentrl.envs.sokoban.level import Level
from agentrl.envs.sokoban.solver import solve

_STEPS = ((-1, 0), (1, 0), (0, -1), (0, 1))


class GenerationError(RuntimeError):
    """No valid room was found within the retry budget (room too small for the boxes)."""


@dataclass(frozen=True)
class GeneratorConfig:
    dim_room: tuple[int, int] = (6, 6)
    num_boxes: int = 1
    walk_steps: int | None = None
    """Carving steps of the topology walk (default: 1.7 x (height + width), as gym-sokoban)."""
    p_turn: float = 0.35
    reverse_steps: int | None = None
    """Steps of each reverse walk (default: 10 x (height + width))."""
    p_pull: float = 0.6
    attempts: int = 4
    min_moves: int = 0
    """Reject rooms whose optimal solution is shorter than this (checked with the exact solver)."""
    max_retries: int = 200


def generate_room(rng: random.Random, config: GeneratorConfig) -> tuple[Level, list[str]]:
    """A solvable room and one (not necessarily optimal) solution of it."""
    height, width = config.dim_room
    if height < 3 or width < 3:
        raise ValueError(f"dim_room must be at least 3x3, got {config.dim_room}")
    if config.num_boxes < 1:
        raise ValueError(f"num_boxes must be >= 1, got {config.num_boxes}")
    for _ in range(config.max_retries):
        floor = _carve(rng, height, width, config)
        cells = [(r, c) for r in range(height) for c in range(width) if floor[r][c]]
        if len(cells) < config.num_boxes + 2:
            continue
        picks = rng.sample(cells, config.num_boxes + 1)
        goals, player = picks[:-1], picks[-1]
        best = _best_reverse_play(rng, floor, goals, player, config)
        if best is None:
            continue
        boxes, player, solution = best
        walls = ~np.array(floor, dtype=bool)
        goal_grid = np.zeros((height, width), dtype=bool)
        for r, c in goals:
            goal_grid[r, c] = True
        level = Level(walls, goal_grid, frozenset(boxes), player)
        if config.min_moves <= 0 or _optimal_length(level) >= config.min_moves:
            return level, solution
    raise GenerationError(
        f"could not generate a {height}x{width} room with {config.num_boxes} boxes"
        + (f" and at least {config.min_moves} moves" if config.min_moves else "")
        + f" in {config.max_retries} tries; use a larger room, fewer boxes or a lower min_moves"
    )


def _optimal_length(level: Level) -> int:
    result = solve(level, max_nodes=50_000)
    return len(result.moves) if result.moves is not None else 0


#: Brush shapes stamped around the walker (3x3, centred on it), as in gym-sokoban.
_MASKS = (
    ((0, -1), (0, 0), (0, 1)),
    ((-1, 0), (0, 0), (1, 0)),
    ((0, -1), (0, 0), (1, 0)),
    ((0, -1), (0, 0), (1, -1), (1, 0)),
    ((0, 0), (0, 1), (1, 0)),
)


def _carve(rng: random.Random, height: int, width: int, config: GeneratorConfig) -> list[list[bool]]:
    floor = [[False] * width for _ in range(height)]
    steps = config.walk_steps or int(1.7 * (height + width))
    r, c = rng.randint(1, height - 2), rng.randint(1, width - 2)
    direction = rng.choice(_STEPS)
    for _ in range(steps):
        if rng.random() < config.p_turn:
            direction = rng.choice(_STEPS)
        r = min(max(r + direction[0], 1), height - 2)
        c = min(max(c + direction[1], 1), width - 2)
        for dr, dc in rng.choice(_MASKS):
            rr, cc = r + dr, c + dc
            if 1 <= rr <= height - 2 and 1 <= cc <= width - 2:
                floor[rr][cc] = True
    return floor


def _best_reverse_play(rng, floor, goals, player, config):
    """Reverse walks from the solved position. The position seen with the highest gym-sokoban
    score (box swaps x total box displacement, all boxes off goals) wins; box identities are
    tracked to measure displacement."""
    goal_set = set(goals)
    best, best_score = None, (0, 0)
    for _ in range(config.attempts):
        home = {g: g for g in goals}  # current box cell -> the goal it started on
        pos = player
        pulls: list[str] = []  # forward moves, in reverse order
        swaps = 0
        last_pulled = None
        for _ in range(config.reverse_steps or 10 * (len(floor) + len(floor[0]))):
            index = rng.randrange(4)
            dr, dc = _STEPS[index]
            nxt = (pos[0] + dr, pos[1] + dc)
            if not floor[nxt[0]][nxt[1]] or nxt in home:
                continue
            behind = (pos[0] - dr, pos[1] - dc)
            pulled = behind in home and rng.random() < config.p_pull
            if pulled:
                home[pos] = home.pop(behind)
                if home[pos] != last_pulled:
                    swaps, last_pulled = swaps + 1, home[pos]
            pulls.append(_OPPOSITE[index])
            pos = nxt
            if pulled and not (home.keys() & goal_set):
                displacement = sum(abs(b[0] - g[0]) + abs(b[1] - g[1]) for b, g in home.items())
                score = (swaps * displacement, displacement)
                if score > best_score:
                    best, best_score = (frozenset(home), pos, pulls[::-1]), score
    return best


_OPPOSITE = ("Down", "Up", "Right", "Left")
