"""An exact Sokoban solver: A* over pushes with move-accurate costs.

Each search edge is "walk to a box, push it one square"; its cost is the walk length plus one, so
the first goal popped from the queue is a *move-optimal* solution. The heuristic is the minimum
cost matching of boxes to goals under push distances that ignore other boxes: every push moves the
player at least one square, so it never overestimates, and one push changes it by at most one, so
it is consistent and no state needs re-expansion.

Pruning keeps it exact: a box is never pushed onto a *dead square* (a floor cell from which no goal
can be reached by pushing), nor into a 2x2 block of walls and boxes that holds a box off its goal.
A node budget bounds the work; :class:`SolveResult` says whether it ran out.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import deque
from dataclasses import dataclass

from agentrl.envs.sokoban.level import DIRECTIONS, Level


@dataclass
class SolveResult:
    moves: list[str] | None
    """Move-optimal list of directions, or None when unsolved."""
    status: str
    """``solved``, ``unsolvable`` (search space exhausted) or ``budget`` (node budget reached)."""
    nodes: int
    """States expanded."""
    seconds: float

    @property
    def solved(self) -> bool:
        return self.moves is not None


class _Board:
    """Static structure of a level in flat-index form, with dead squares and push distances."""

    def __init__(self, level: Level):
        h, w = level.shape
        self.width = w
        self.size = h * w
        self.floor = [not level.walls.flat[i] for i in range(self.size)]
        self.steps = [dr * w + dc for dr, dc in DIRECTIONS.values()]
        self.step_names = list(DIRECTIONS)
        self.goals = [i for i in range(self.size) if level.goals.flat[i]]
        self.goal_mask = sum(1 << g for g in self.goals)
        self.neighbors = [
            [(d, i + s) for d, s in enumerate(self.steps) if 0 <= i + s < self.size and self.floor[i + s]]
            if self.floor[i] else []
            for i in range(self.size)
        ]
        self.goal_distance = [self._pull_distances(g) for g in self.goals]
        self.live = [any(dist[i] is not None for dist in self.goal_distance) for i in range(self.size)]

    def _pull_distances(self, goal: int) -> list[int | None]:
        """Pushes needed to bring a lone box from each cell to ``goal`` (reverse pulls)."""
        dist: list[int | None] = [None] * self.size
        dist[goal] = 0
        queue = deque([goal])
        while queue:
            cell = queue.popleft()
            for step in self.steps:
                before, player = cell - step, cell - 2 * step
                if (
                    0 <= player < self.size
                    and self.floor[before]
                    and self.floor[player]
                    and dist[before] is None
                ):
                    dist[before] = dist[cell] + 1  # type: ignore[operator]
                    queue.append(before)
        return dist

    def heuristic(self, boxes: tuple[int, ...]) -> int | None:
        """Minimum-cost box-to-goal matching (exact for up to 6 boxes, else a greedy bound)."""
        costs = [[dist[b] for dist in self.goal_distance] for b in boxes]
        if len(boxes) <= 6:
            best = None
            for perm in itertools.permutations(range(len(self.goals)), len(boxes)):
                total = 0
                for row, g in zip(costs, perm):
                    c = row[g]
                    if c is None:
                        break
                    total += c
                else:
                    best = total if best is None or total < best else best
            return best
        total = 0
        for row in costs:
            finite = [c for c in row if c is not None]
            if not finite:
                return None
            total += min(finite)
        return total

    def frozen_square(self, target: int, box_set: set[int]) -> bool:
        """Is ``target`` part of a 2x2 block of walls/boxes containing a box off its goal?"""
        w = self.width
        for corner in (target, target - 1, target - w, target - w - 1):
            block = (corner, corner + 1, corner + w, corner + w + 1)
            if any(c < 0 or c >= self.size for c in block):
                continue
            if all(not self.floor[c] or c in box_set for c in block):
                if any(c in box_set and not (self.goal_mask >> c) & 1 for c in block):
                    return True
        return False

    def reach(self, player: int, box_set: set[int]) -> dict[int, int]:
        """Walking distance from ``player`` to every reachable cell."""
        dist = {player: 0}
        queue = deque([player])
        neighbors = self.neighbors
        while queue:
            cell = queue.popleft()
            d = dist[cell] + 1
            for _, nxt in neighbors[cell]:
                if nxt not in dist and nxt not in box_set:
                    dist[nxt] = d
                    queue.append(nxt)
        return dist

    def walk(self, start: int, goal: int, box_set: set[int]) -> list[str]:
        """A shortest walking path as direction names."""
        parent: dict[int, tuple[int, int]] = {start: (-1, -1)}
        queue = deque([start])
        while queue and goal not in parent:
            cell = queue.popleft()
            for d, nxt in self.neighbors[cell]:
                if nxt not in parent and nxt not in box_set:
                    parent[nxt] = (cell, d)
                    queue.append(nxt)
        path: list[str] = []
        cell = goal
        while cell != start:
            prev, d = parent[cell]
            path.append(self.step_names[d])
            cell = prev
        return path[::-1]


def solve(level: Level, *, max_nodes: int = 300_000, time_limit: float | None = None) -> SolveResult:
    """Find a move-optimal solution of ``level`` within ``max_nodes`` expansions."""
    started = time.perf_counter()
    board = _Board(level)
    width = board.width
    start_boxes = tuple(sorted(r * width + c for r, c in level.boxes))
    start_player = level.player[0] * width + level.player[1]
    h0 = board.heuristic(start_boxes)
    if h0 is None or any(not board.live[b] for b in start_boxes):
        return SolveResult(None, "unsolvable", 0, time.perf_counter() - started)
    goal_set = set(board.goals)
    counter = itertools.count()
    start = (start_boxes, start_player)
    best_cost = {start: 0}
    parent: dict[tuple, tuple] = {start: None}  # type: ignore[dict-item]
    heuristic_cache = {start_boxes: h0}
    frontier = [(h0, 0, next(counter), 0, start)]
    nodes = 0
    while frontier:
        _, _, _, cost, state = heapq.heappop(frontier)
        if cost > best_cost[state]:
            continue
        boxes, player = state
        if set(boxes) == goal_set:
            moves = _reconstruct(board, parent, state)
            return SolveResult(moves, "solved", nodes, time.perf_counter() - started)
        nodes += 1
        if nodes > max_nodes or (time_limit and time.perf_counter() - started > time_limit):
            return SolveResult(None, "budget", nodes, time.perf_counter() - started)
        box_set = set(boxes)
        reach = board.reach(player, box_set)
        for box in boxes:
            for step in board.steps:
                stand, target = box - step, box + step
                walk = reach.get(stand)
                if walk is None or not board.floor[target] or target in box_set or not board.live[target]:
                    continue
                box_set.discard(box)
                box_set.add(target)
                frozen = board.frozen_square(target, box_set)
                box_set.discard(target)
                box_set.add(box)
                if frozen:
                    continue
                new_boxes = tuple(sorted(target if b == box else b for b in boxes))
                child = (new_boxes, box)
                child_cost = cost + walk + 1
                if child_cost >= best_cost.get(child, 1 << 60):
                    continue
                h = heuristic_cache.get(new_boxes)
                if h is None:
                    h = board.heuristic(new_boxes)
                    if h is None:
                        continue
                    heuristic_cache[new_boxes] = h
                best_cost[child] = child_cost
                parent[child] = (state, stand, step)
                heapq.heappush(frontier, (child_cost + h, -child_cost, next(counter), child_cost, child))
    return SolveResult(None, "unsolvable", nodes, time.perf_counter() - started)


def _reconstruct(board: _Board, parent: dict, state: tuple) -> list[str]:
    pushes = []
    while parent[state] is not None:
        pushes.append(parent[state])
        state = parent[state][0]
    moves: list[str] = []
    for prev, stand, step in reversed(pushes):
        boxes, player = prev
        moves.extend(board.walk(player, stand, set(boxes)))
        moves.append(board.step_names[board.steps.index(step)])
    return moves


def apply_moves(level: Level, moves: list[str]) -> Level:
    """Replay moves with Sokoban rules (used to verify solutions)."""
    for move in moves:
        level = level.move(move)
    return level
