"""A scripted MiniHack navigation player (Room, KeyRoom, MazeWalk; most Corridor levels).

It reads only its input: the glyph crop (``observation_mode="dict"``, agent at the centre), the
language text (inventory and message) and ``info["position"]``, from which it remembers the squares
each episode has stood on. Each turn it picks the first rule that applies:

1. standing on the key without holding it -> ``pick up``;
2. a closed door next to it (north/south/east/west) -> ``open <dir>``, or, right after "This door is
   locked", ``apply key <dir>`` (``kick <dir>`` without a key);
3. the shortest path (8-connected, no diagonal steps through open doors) to, in order: the key if it
   is in view and not held, the staircase down, a square beside a closed door, the nearest square
   next to unexplored blank (blank squares beside visited ones are rock) or on the crop's border;
4. ``search``.

It is a test and demonstration policy, not a strong player: it does not fight or cross rivers.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterable, Sequence
from functools import lru_cache

import numpy as np
from nle import nethack

from agentrl.core.policy import ActionOutput, PolicyInput, wrap_answer
from agentrl.envs.minihack.actions import COMPASS_OFFSETS

_CMAP = nethack.GLYPH_CMAP_OFF
KEY_GLYPH = nethack.GLYPH_OBJ_OFF + next(
    i for i in range(nethack.NUM_OBJECTS) if nethack.OBJ_NAME(nethack.objclass(i)) == "skeleton key"
)
BOULDER_GLYPH = nethack.GLYPH_OBJ_OFF + next(
    i for i in range(nethack.NUM_OBJECTS) if nethack.OBJ_NAME(nethack.objclass(i)) == "boulder"
)
STAIRS_DOWN = _CMAP + 24
CLOSED_DOORS = frozenset({_CMAP + 15, _CMAP + 16})
OPEN_DOORS = frozenset({_CMAP + 13, _CMAP + 14})
UNKNOWN = frozenset({_CMAP + 0, nethack.NO_GLYPH})
_PASSABLE_CMAP = (12, 13, 14, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 33, 35, 36)
_ORTHOGONAL = ("north", "south", "east", "west")
_DIRECTION_OF = {offset: name for name, offset in COMPASS_OFFSETS.items()}
_HELD_KEY = re.compile(r"^[a-zA-Z] - .*\bkey\b", re.MULTILINE)


@lru_cache(maxsize=1)
def passable_glyphs() -> np.ndarray:
    """``table[glyph]``: whether the agent can walk onto a square showing ``glyph``."""
    return np.array([_passable(glyph) for glyph in range(nethack.MAX_GLYPH + 1)], dtype=bool)


def _passable(glyph: int) -> bool:
    if glyph == BOULDER_GLYPH:
        return False
    if nethack.glyph_is_cmap(glyph):
        return nethack.glyph_to_cmap(glyph) in _PASSABLE_CMAP
    return nethack.glyph_is_object(glyph) or nethack.glyph_is_monster(glyph)


class NavigationExpert:
    """Closed-loop scripted policy; see the module docstring for its rules."""

    def __init__(self, *, tag: str | None = "answer"):
        self.tag = tag
        self._visited: dict[int, set[tuple[int, int]]] = {}
        """Map squares each live episode has stood on (from ``info["position"]``), by episode key."""

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        outputs = []
        for item in inputs:
            if not item.history:
                self._visited[item.episode_key] = set()
            visited = self._visited.setdefault(item.episode_key, set())
            position = item.info.get("position")
            if position is not None:
                visited.add(tuple(position))
            move = self.choose(item.observation, position=position, visited=visited)
            outputs.append(ActionOutput(text=wrap_answer(move, self.tag)))
        return outputs

    def choose(self, observation: dict, *, position=None, visited: set[tuple[int, int]] = frozenset()) -> str:
        """The next action. With the agent's ``position`` and the squares it has ``visited``, blank
        squares next to visited ones are known rock, not places to explore."""
        grid, text = np.asarray(observation["grid"]), observation["text"]
        centre = grid.shape[0] // 2
        message = text.split("\n", 1)[0]
        has_key = bool(_HELD_KEY.search(text.split("Inventory:", 1)[-1]))
        if not has_key and re.search(r"You see here .*\bkey\b", message):
            return "pick up"
        door = self._adjacent_door(grid, centre)
        key_in_view = bool((grid == KEY_GLYPH).any())
        if door is not None and (has_key or not key_in_view):
            if "This door is locked" in message:
                return f"apply key {door}" if has_key else f"kick {door}"
            return f"open {door}"
        passable = passable_glyphs()[grid]
        rock = _known_rock(grid, position, visited)
        for goals in self._goals(grid, passable, has_key, rock):
            step = _first_step(passable, grid, (centre, centre), goals, diagonal="diagonally" not in message)
            if step is not None:
                return step
        return "search"

    @staticmethod
    def _adjacent_door(grid: np.ndarray, centre: int) -> str | None:
        for name in _ORTHOGONAL:
            dx, dy = COMPASS_OFFSETS[name]
            if grid[centre + dy, centre + dx] in CLOSED_DOORS:
                return name
        return None

    @staticmethod
    def _goals(grid: np.ndarray, passable: np.ndarray, has_key: bool, rock: np.ndarray) -> Iterable[set]:
        if not has_key:
            yield _cells(grid == KEY_GLYPH)
        yield _cells(grid == STAIRS_DOWN)
        doors = _cells(np.isin(grid, list(CLOSED_DOORS)))
        yield {
            (y + dy, x + dx)
            for y, x in doors
            for dx, dy in (COMPASS_OFFSETS[n] for n in _ORTHOGONAL)
            if _inside(grid, y + dy, x + dx) and passable[y + dy, x + dx]
        }
        yield _frontier(grid, passable, rock)


def _known_rock(grid: np.ndarray, position, visited) -> np.ndarray:
    """Mask of the blank squares next to a square the agent stood on: seen, so rock, not unexplored."""
    rock = np.zeros(grid.shape, dtype=bool)
    if position is None:
        return rock
    centre = grid.shape[0] // 2
    px, py = position
    for vx, vy in visited:
        gx, gy = vx - px + centre, vy - py + centre
        rock[max(gy - 1, 0) : max(gy + 2, 0), max(gx - 1, 0) : max(gx + 2, 0)] = True
    return rock & np.isin(grid, list(UNKNOWN))


def _cells(mask: np.ndarray) -> set[tuple[int, int]]:
    return {(int(y), int(x)) for y, x in zip(*np.nonzero(mask))}


def _inside(grid: np.ndarray, y: int, x: int) -> bool:
    return 0 <= y < grid.shape[0] and 0 <= x < grid.shape[1]


def _frontier(grid: np.ndarray, passable: np.ndarray, rock: np.ndarray) -> set[tuple[int, int]]:
    """Walkable squares next to unexplored ones, or on the crop's border (the level may go on)."""
    unexplored = np.isin(grid, list(UNKNOWN)) & ~rock
    last = grid.shape[0] - 1
    frontier = set()
    for y, x in _cells(passable):
        if y in (0, last) or x in (0, last):
            frontier.add((y, x))
            continue
        for dx, dy in COMPASS_OFFSETS.values():
            if unexplored[y + dy, x + dx]:
                frontier.add((y, x))
                break
    return frontier


def _first_step(passable, grid, start, goals, *, diagonal: bool = True) -> str | None:
    """First move of a shortest path from ``start`` to any goal; no diagonal steps at open doors."""
    goals = goals - {start}
    if not goals:
        return None
    first: dict[tuple[int, int], str | None] = {start: None}
    queue = deque([start])
    while queue:
        y, x = queue.popleft()
        for name, (dx, dy) in COMPASS_OFFSETS.items():
            ny, nx = y + dy, x + dx
            if (ny, nx) in first or not _inside(grid, ny, nx) or not passable[ny, nx]:
                continue
            if (
                dx
                and dy
                and (
                    not diagonal and (y, x) == start or grid[y, x] in OPEN_DOORS or grid[ny, nx] in OPEN_DOORS
                )
            ):
                continue
            first[(ny, nx)] = first[(y, x)] or name
            if (ny, nx) in goals:
                return first[(ny, nx)]
            queue.append((ny, nx))
    return None
