"""Which squares of the glyph map changed since the last look.

Most actions change a handful of the 21x79 squares (the agent's old and new square, a few newly
seen ones). The language view and the subgoal oracles keep what they derive from the map (notable
squares, doors seen, corridors) up to date from those few squares instead of scanning the map in
Python on every step. One vectorised compare finds them; the bool result is searched as bytes
(``memchr``), which beats ``np.flatnonzero`` several times over for a sparse difference.
"""

from __future__ import annotations

import numpy as np


class MapChanges:
    """Flat indices (``y * width + x``) of the squares whose glyph changed between two looks."""

    def __init__(self) -> None:
        self._last: np.ndarray | None = None
        self._last_bytes = b""
        self._differs: np.ndarray | None = None

    def forget(self) -> None:
        """Start over: the next look reports ``None`` (everything is new)."""
        self._last = None

    def since_last(self, glyphs: np.ndarray) -> list[int] | None:
        """The squares that differ from the previous call's map, in increasing order.

        ``None`` on the first call, after :meth:`forget`, or when the map's shape or type changed:
        the caller must then treat every square as new.
        """
        current = glyphs.tobytes()
        last = self._last
        same_layout = last is not None and last.shape == glyphs.shape and last.dtype == glyphs.dtype
        if same_layout and current == self._last_bytes:
            return []  # the usual case first: nothing changed
        if not same_layout:
            self._last = glyphs.copy()
            self._last_bytes = current
            self._differs = np.empty(glyphs.shape, dtype=bool)
            return None
        np.not_equal(glyphs, last, out=self._differs)
        flags = self._differs.tobytes()
        changed = []
        index = flags.find(1)
        while index >= 0:
            changed.append(index)
            index = flags.find(1, index + 1)
        last[...] = glyphs  # as np.copyto, without its Python-level dispatch
        self._last_bytes = current
        return changed
