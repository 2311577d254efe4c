"""Reading JSONL files: one JSON value per line, blank lines skipped."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any


def read_jsonl(path: str | Path, error: type[Exception] = ValueError) -> Iterator[tuple[int, Any]]:
    """Yield ``(line number, value)`` for each non-blank line of ``path``, numbering from 1.

    Blank lines are skipped but still counted, so the numbers match an editor's. A line that is not
    valid JSON raises ``error`` with a message starting ``PATH:LINE: not valid JSON``.
    """
    with open(path, encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                value = json.loads(line)
            except json.JSONDecodeError as exc:
                raise error(f"{path}:{number}: not valid JSON: {exc}") from exc
            yield number, value
