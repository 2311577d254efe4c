"""Sokoban levels: an immutable state type and the standard XSB text format.

XSB symbols: ``#`` wall, ``@`` player, ``+`` player on goal, ``$`` box, ``*`` box on goal,
``.`` goal, space (or ``-``/``_``) floor. A multi-level file separates levels with header lines
such as ``; 12``; other ``;`` lines are comments.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np

# Cell codes of the numeric grid (the same as gym-sokoban's room_state).
WALL, FLOOR, GOAL, BOX_ON_GOAL, BOX, PLAYER, PLAYER_ON_GOAL = range(7)

_XSB_READ = {
    "#": (True, False, False, False),  # wall, goal, box, player
    " ": (False, False, False, False),
    "-": (False, False, False, False),
    "_": (False, False, False, False),
    ".": (False, True, False, False),
    "$": (False, False, True, False),
    "*": (False, True, True, False),
    "@": (False, False, False, True),
    "+": (False, True, False, True),
}


#: Direction names with their (row, column) steps, in the env's action order.
DIRECTIONS = {"Up": (-1, 0), "Down": (1, 0), "Left": (0, -1), "Right": (0, 1)}


class LevelFormatError(ValueError):
    """A level text is malformed; the message names the line."""


@dataclass(frozen=True)
class Level:
    """A Sokoban position. ``walls`` and ``goals`` are boolean (H, W) arrays."""

    walls: np.ndarray
    goals: np.ndarray
    boxes: frozenset[tuple[int, int]]
    player: tuple[int, int]

    @property
    def shape(self) -> tuple[int, int]:
        return self.walls.shape  # type: ignore[return-value]

    @property
    def boxes_on_goals(self) -> int:
        return sum(1 for r, c in self.boxes if self.goals[r, c])

    @property
    def solved(self) -> bool:
        return self.boxes_on_goals == len(self.boxes)

    def grid(self) -> np.ndarray:
        """The numeric grid (codes as in gym-sokoban)."""
        grid = np.where(self.walls, WALL, np.where(self.goals, GOAL, FLOOR)).astype(np.int8)
        for r, c in self.boxes:
            grid[r, c] = BOX_ON_GOAL if self.goals[r, c] else BOX
        r, c = self.player
        grid[r, c] = PLAYER_ON_GOAL if self.goals[r, c] else PLAYER
        return grid

    def to_xsb(self) -> str:
        return render(self, XSB_SYMBOLS)

    def move(self, direction: str) -> "Level":
        """The position after the player tries to move (pushing a box) in ``direction``.

        Moving into a wall, or pushing a box into a wall or another box, changes nothing.
        """
        dr, dc = DIRECTIONS[direction]
        r, c = self.player
        nr, nc = r + dr, c + dc
        if self.walls[nr, nc]:
            return self
        if (nr, nc) in self.boxes:
            br, bc = nr + dr, nc + dc
            if self.walls[br, bc] or (br, bc) in self.boxes:
                return self
            return self.with_state((self.boxes - {(nr, nc)}) | {(br, bc)}, (nr, nc))
        return self.with_state(self.boxes, (nr, nc))

    def with_state(self, boxes: Iterable[tuple[int, int]], player: tuple[int, int]) -> "Level":
        return Level(self.walls, self.goals, frozenset(boxes), player)

    def __eq__(self, other: object) -> bool:
        return (
            isinstance(other, Level)
            and self.boxes == other.boxes
            and self.player == other.player
            and np.array_equal(self.walls, other.walls)
            and np.array_equal(self.goals, other.goals)
        )

    def __hash__(self) -> int:
        return hash((self.boxes, self.player, self.walls.tobytes(), self.goals.tobytes()))


#: Symbols per grid code. ``XSB_SYMBOLS`` is the file format; ``GRID_SYMBOLS`` (the default text
#: rendering) uses ``_`` for floor so every cell is a visible token; ``RAGEN_SYMBOLS`` is RAGEN's set.
XSB_SYMBOLS = ("#", " ", ".", "*", "$", "@", "+")
GRID_SYMBOLS = ("#", "_", ".", "*", "$", "@", "+")
RAGEN_SYMBOLS = ("#", "_", "O", "√", "X", "P", "S")
SYMBOL_SETS = {"xsb": XSB_SYMBOLS, "grid": GRID_SYMBOLS, "ragen": RAGEN_SYMBOLS}


def render(level: Level, symbols: tuple[str, ...] = GRID_SYMBOLS) -> str:
    grid = level.grid()
    lines = ["".join(symbols[code] for code in row) for row in grid]
    if symbols is XSB_SYMBOLS:
        lines = [line.rstrip() for line in lines]
    return "\n".join(lines)


def parse_xsb(text: str, *, first_line: int = 1, source: str = "<string>") -> Level:
    """Parse one level. Rows may have different lengths; the level is padded with walls."""
    rows = [row.rstrip("\r\n") for row in text.split("\n")]
    while rows and not rows[-1].strip():
        rows.pop()
    while rows and not rows[0].strip():
        rows.pop(0)
        first_line += 1
    if not rows:
        raise LevelFormatError(f"{source}, line {first_line}: empty level")
    width = max(len(row) for row in rows)
    shape = (len(rows), width)
    walls = np.ones(shape, dtype=bool)
    goals = np.zeros(shape, dtype=bool)
    boxes: set[tuple[int, int]] = set()
    players: list[tuple[int, int]] = []
    for r, row in enumerate(rows):
        inside = _interior_span(row)
        for c, char in enumerate(row):
            if char not in _XSB_READ:
                raise LevelFormatError(
                    f"{source}, line {first_line + r}: unknown symbol {char!r} in column {c + 1} "
                    f"(valid: {''.join(sorted(_XSB_READ))!r})"
                )
            wall, goal, box, player = _XSB_READ[char]
            walls[r, c] = wall or not (inside[0] <= c <= inside[1])
            goals[r, c] = goal
            if box:
                boxes.add((r, c))
            if player:
                players.append((r, c))
    _validate(rows, boxes, goals, players, first_line, source)
    return Level(walls, goals, frozenset(boxes), players[0])


def _interior_span(row: str) -> tuple[int, int]:
    """Columns between the first and last wall of a row: leading spaces outside are walls."""
    stripped = row.strip(" ")
    if not stripped:
        return (1, 0)
    return (len(row) - len(row.lstrip(" ")), len(row.rstrip(" ")) - 1)


def _validate(rows, boxes, goals, players, first_line, source) -> None:
    where = f"{source}, lines {first_line}-{first_line + len(rows) - 1}"
    if len(players) != 1:
        raise LevelFormatError(f"{where}: expected exactly one player ('@' or '+'), found {len(players)}")
    if not boxes:
        raise LevelFormatError(f"{where}: the level has no boxes ('$' or '*')")
    if len(boxes) != int(goals.sum()):
        raise LevelFormatError(f"{where}: {len(boxes)} boxes but {int(goals.sum())} goals")


def level_from_grid(grid: np.ndarray) -> Level:
    """Inverse of :meth:`Level.grid`."""
    grid = np.asarray(grid)
    boxes = frozenset((int(r), int(c)) for r, c in zip(*np.nonzero((grid == BOX) | (grid == BOX_ON_GOAL))))
    player = np.argwhere((grid == PLAYER) | (grid == PLAYER_ON_GOAL))
    if len(player) != 1:
        raise LevelFormatError(f"grid has {len(player)} players")
    goals = (grid == GOAL) | (grid == BOX_ON_GOAL) | (grid == PLAYER_ON_GOAL)
    return Level(grid == WALL, goals, boxes, (int(player[0][0]), int(player[0][1])))


def level_from_text(text: str, symbols: tuple[str, ...] = GRID_SYMBOLS) -> Level:
    """Read a rendered level back; lines above the grid (messages) are skipped."""
    codes = {symbol: code for code, symbol in enumerate(symbols)}
    rows: list[str] = []
    for line in reversed(text.split("\n")):
        if line and all(ch in codes for ch in line):
            rows.append(line)
        elif rows:
            break
    if not rows:
        raise LevelFormatError("no grid found in the text")
    rows.reverse()
    return level_from_grid(np.array([[codes[ch] for ch in row] for row in rows]))


def parse_xsb_file(text: str, source: str = "<string>") -> list[tuple[str, Level]]:
    """Parse a multi-level file into ``(name, level)`` pairs.

    Levels are separated by ``; name`` header lines or blank lines; other text lines that hold no
    Sokoban symbols are rejected with their line number.
    """
    levels: list[tuple[str, Level]] = []
    name: str | None = None
    block: list[str] = []
    block_start = 1

    def flush() -> None:
        nonlocal block, name
        if any(row.strip() for row in block):
            label = name if name is not None else str(len(levels))
            levels.append((label, parse_xsb("\n".join(block), first_line=block_start, source=source)))
        block, name = [], None

    for number, line in enumerate(text.split("\n"), start=1):
        stripped = line.strip()
        if stripped.startswith(";"):
            flush()
            name = stripped.lstrip(";").strip() or None
            block_start = number + 1
        elif not stripped and block:
            flush()
            block_start = number + 1
        elif not stripped:
            block_start = number + 1
        else:
            block.append(line)
    flush()
    if not levels:
        raise LevelFormatError(f"{source}: no levels found")
    return levels


def load_levels(path: str) -> list[tuple[str, Level]]:
    with open(path, encoding="utf-8") as handle:
        return parse_xsb_file(handle.read(), source=str(path))


def format_xsb_file(levels: Iterable[tuple[str, Level]]) -> str:
    return "\n\n".join(f"; {name}\n{level.to_xsb()}" for name, level in levels) + "\n"
