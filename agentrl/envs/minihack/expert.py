"""A scripted MiniHack navigation player (Room, KeyRoom, MazeWalk; most Corridor levels).

It reads only its input: the glyph crop (``observation_mode="dict"``, agent at the centre), the
language text (inventory and messages), ``info["position"]``, from which it remembers the squares
each episode has stood on, and ``info["available_actions"]``. Each turn it picks the first rule that
applies:

1. standing on the key without holding it -> ``pick up``;
2. ``apply`` is available (MiniHack's KeyRoom action set, key in hand, door next to it) -> ``apply``;
3. a closed door next to it (north/south/east/west) -> ``open <dir>``, or, right after "This door is
   locked", ``apply key <dir>`` (``kick <dir>`` without a key), whichever the action set offers;
4. the shortest path (8-connected, no diagonal steps through open doors) to, in order: the key if it
   is in view and not held, the staircase down, a square beside a closed door (when it can open
   doors: the action set has ``open``/``kick``, or it holds the key for KeyRoom's ``apply``), the
   nearest square next to unexplored blank (blank squares beside visited ones are rock) or on the
   crop's border;
5. ``search`` if the action set has it, else a step to any walkable neighbour.

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

    def __init__(self, *, tag: str | None = "answer", door_commands: bool = True, key_door: bool = False):
        self.tag = tag
        self.door_commands = door_commands
        """The action set opens doors by command (``open``/``kick``)."""
        self.key_door = key_door
        """The action set has MiniHack's KeyRoom ``apply`` (unlock and open with the key in hand)."""
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
            available = item.info.get("available_actions")
            move = self.choose(item.observation, position=position, visited=visited, available=available)
            outputs.append(ActionOutput(text=wrap_answer(move, self.tag)))
        return outputs

    def choose(self, observation: dict, *, position=None, visited: set[tuple[int, int]] = frozenset(),
               available: list[str] | None = None) -> str:
        """The next action. With the agent's ``position`` and the squares it has ``visited``, blank
        squares next to visited ones are known rock, not places to explore; ``available`` (the env's
        ``available_actions``) says which door actions the action set offers now."""
        grid, text = np.asarray(observation["grid"]), observation["text"]
        offered = set(available) if available is not None else None

        def can(action: str) -> bool:
            return offered is None or action in offered

        centre = grid.shape[0] // 2
        message = " ".join(line for line in text.split("\n") if line.startswith("Message:"))
        has_key = bool(_HELD_KEY.search(text.split("Inventory:", 1)[-1]))
        if not has_key and re.search(r"You see here .*\bkey\b", message):
            return "pick up"
        if offered is not None and "apply" in offered:
            return "apply"
        door = self._adjacent_door(grid, centre)
        key_in_view = bool((grid == KEY_GLYPH).any())
        if door is not None and (has_key or not key_in_view):
            if "This door is locked" in message:
                if has_key and (can(f"unlock {door}") and not self.key_door):
                    return f"apply key {door}"
                if can(f"kick {door}") and self.door_commands:
                    return f"kick {door}"
            elif can(f"open {door}") and self.door_commands:
                return f"open {door}"
        passable = passable_glyphs()[grid]
        rock = _known_rock(grid, position, visited)
        doors = self.door_commands or (self.key_door and has_key)
        for goals in self._goals(grid, passable, has_key, rock, doors):
            step = _first_step(passable, grid, (centre, centre), goals, diagonal="diagonally" not in message)
            if step is not None:
                return step
        if can("search"):
            return "search"
        walkable = (name for name, (dx, dy) in COMPASS_OFFSETS.items() if passable[centre + dy, centre + dx])
        return next(walkable, "north")

    @staticmethod
    def _adjacent_door(grid: np.ndarray, centre: int) -> str | None:
        for name in _ORTHOGONAL:
            dx, dy = COMPASS_OFFSETS[name]
            if grid[centre + dy, centre + dx] in CLOSED_DOORS:
                return name
        return None

    @staticmethod
    def _goals(
        grid: np.ndarray, passable: np.ndarray, has_key: bool, rock: np.ndarray, doors: bool
    ) -> Iterable[set]:
        if not has_key:
            yield _cells(grid == KEY_GLYPH)
        yield _cells(grid == STAIRS_DOWN)
        if doors:
            yield {
                (y + dy, x + dx)
                for y, x in _cells(np.isin(grid, list(CLOSED_DOORS)))
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
