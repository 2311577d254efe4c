"""Recorded model responses, keyed by model and query (RouterBench style), read from JSONL.

One JSON object per line::

    {"model": "qwen-7b", "query": "Who wrote Hamlet?", "response": "William Shakespeare",
     "prompt_tokens": 12, "completion_tokens": 3, "latency_s": 0.41}

``model``, ``query`` and ``response`` are required; token counts and latency are optional. Model
names match case-insensitively and queries match after collapsing whitespace, so a recording made
through one client replays through another. Both the replay *responder* (served over HTTP) and the
router env's replay *backend* (in-process) read this format.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Mapping

from agentrl.core.jsonl import read_jsonl


@dataclass(frozen=True)
class RecordedResponse:
    """One recorded answer of one model to one query."""

    model: str
    query: str
    response: str
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    latency_s: float | None = None


def replay_key(model: str, query: str) -> tuple[str, str]:
    """The lookup key: case-folded model name and whitespace-collapsed query."""
    return model.strip().casefold(), " ".join(query.split())


class ReplayTable:
    """An in-memory index of :class:`RecordedResponse` by ``(model, query)``."""

    def __init__(self, records: Iterable[RecordedResponse | Mapping[str, Any]] = ()) -> None:
        self._records: dict[tuple[str, str], RecordedResponse] = {}
        for number, record in enumerate(records, start=1):
            self.add(record, where=f"record {number}")

    @classmethod
    def from_jsonl(cls, *paths: str | Path) -> "ReplayTable":
        table = cls()
        for path in paths:
            for number, data in read_jsonl(path):
                table.add(data, where=f"{path}:{number}")
        return table

    def add(self, record: RecordedResponse | Mapping[str, Any], *, where: str = "record") -> None:
        if not isinstance(record, RecordedResponse):
            record = _record_from_mapping(record, where)
        key = replay_key(record.model, record.query)
        existing = self._records.get(key)
        if existing is not None and existing.response != record.response:
            raise ValueError(
                f"{where}: a different response for model {record.model!r} and query {record.query!r} "
                "is already recorded; a replay table holds one response per (model, query)"
            )
        self._records[key] = record

    def get(self, model: str, query: str) -> RecordedResponse | None:
        return self._records.get(replay_key(model, query))

    def lookup(self, model: str, query: str) -> RecordedResponse:
        """The recorded response, or a ``KeyError`` that lists the recorded models."""
        found = self.get(model, query)
        if found is None:
            raise KeyError(
                f"no recorded response for model {model!r} and query {query[:80]!r}; "
                f"recorded models: {', '.join(self.models()) or 'none'}"
            )
        return found

    def models(self) -> list[str]:
        return sorted({record.model for record in self._records.values()})

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self):
        return iter(self._records.values())

    def to_jsonl(self, path: str | Path) -> None:
        with open(path, "w", encoding="utf-8") as handle:
            for record in self._records.values():
                data = {k: v for k, v in record.__dict__.items() if v is not None}
                handle.write(json.dumps(data) + "\n")


def _record_from_mapping(data: Mapping[str, Any], where: str) -> RecordedResponse:
    if not isinstance(data, Mapping):
        raise ValueError(f"{where}: expected a JSON object, got {type(data).__name__}")
    missing = [key for key in ("model", "query", "response") if not isinstance(data.get(key), str)]
    if missing:
        raise ValueError(f"{where}: missing or non-string field(s) {', '.join(missing)}; "
                         "a record needs model, query and response")
    extra = set(data) - {"model", "query", "response", "prompt_tokens", "completion_tokens", "latency_s"}
    if extra:
        raise ValueError(f"{where}: unknown field(s) {', '.join(sorted(extra))}; valid fields: model, query, "
                         "response, prompt_tokens, completion_tokens, latency_s")
    return RecordedResponse(
        model=data["model"], query=data["query"], response=data["response"],
        prompt_tokens=_optional_int(data.get("prompt_tokens")),
        completion_tokens=_optional_int(data.get("completion_tokens")),
        latency_s=None if data.get("latency_s") is None else float(data["latency_s"]),
    )


def _optional_int(value: Any) -> int | None:
    return None if value is None else int(value)
