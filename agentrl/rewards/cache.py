"""A persistent key -> JSON cache for judge verdicts (SQLite, one file, safe to reopen).

Keys are hashes of everything that decides a verdict (judge model, prompt version, task, subgoals
and the transition), so a repeated transition never reaches the judge twice -- in this run or any
later run that points at the same directory.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from pathlib import Path
from typing import Any

CACHE_FILE = "judgments.sqlite"


def cache_key(*parts: Any) -> str:
    """A stable hash of JSON-serialisable parts."""
    blob = json.dumps(parts, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


class JudgmentCache:
    """In-memory in front of an optional SQLite file in ``directory``."""

    def __init__(self, directory: str | Path | None = None) -> None:
        self.path = Path(directory) / CACHE_FILE if directory else None
        self._memory: dict[str, Any] = {}
        self._connection: sqlite3.Connection | None = None
        self._lock = threading.Lock()
        if self.path is not None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._connection = sqlite3.connect(str(self.path), check_same_thread=False)
            self._connection.execute(
                "CREATE TABLE IF NOT EXISTS verdicts (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
            )
            self._connection.commit()

    def get(self, key: str) -> Any | None:
        if key in self._memory:
            return self._memory[key]
        if self._connection is None:
            return None
        with self._lock:
            row = self._connection.execute("SELECT value FROM verdicts WHERE key = ?", (key,)).fetchone()
        if row is None:
            return None
        value = json.loads(row[0])
        self._memory[key] = value
        return value

    def put(self, key: str, value: Any) -> None:
        self._memory[key] = value
        if self._connection is not None:
            with self._lock:
                self._connection.execute(
                    "INSERT OR REPLACE INTO verdicts (key, value) VALUES (?, ?)", (key, json.dumps(value))
                )

    def flush(self) -> None:
        if self._connection is not None:
            with self._lock:
                self._connection.commit()

    def __len__(self) -> int:
        if self._connection is None:
            return len(self._memory)
        with self._lock:
            return int(self._connection.execute("SELECT COUNT(*) FROM verdicts").fetchone()[0])

    def close(self) -> None:
        if self._connection is not None:
            self.flush()
            self._connection.close()
            self._connection = None
