"""Parsing of raw agent text into environment actions.

An LLM turn is free text such as ``"<think>push right</think><answer>Right || Down</answer>"``.
:class:`ActionFormat` turns it into a list of action strings (RAGEN style: several actions per
turn, joined by a separator, capped per turn) or into an explanation of what was wrong with it.
Parsing never raises on agent input: malformed text is an outcome, not an exception.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache


@lru_cache(maxsize=64)
def _tag_pattern(tag: str) -> re.Pattern[str]:
    escaped = re.escape(tag)
    return re.compile(rf"<{escaped}>(.*?)</{escaped}>", re.DOTALL)


def extract_tags(text: str, tag: str) -> list[str]:
    """Every ``<tag>...</tag>`` body in ``text``, stripped, in order of appearance."""
    return [body.strip() for body in _tag_pattern(tag).findall(text)]


def extract_tag(text: str, tag: str) -> str | None:
    """The body of the *last* ``<tag>...</tag>`` in ``text``, or ``None`` if there is none.

    The last one wins because models often restate their final answer after thinking aloud.
    """
    found = extract_tags(text, tag)
    return found[-1] if found else None


def split_actions(body: str, separator: str) -> list[str]:
    """Split a body into non-empty, stripped actions."""
    parts = body.split(separator) if separator else [body]
    return [part.strip() for part in parts if part.strip()]


@dataclass(frozen=True)
class ParsedTurn:
    """The outcome of parsing one turn of agent text."""

    actions: tuple[str, ...] = ()
    """Actions to execute, in order (at most ``max_actions``)."""
    error: str | None = None
    """Why the text could not be parsed; ``None`` when it could."""
    dropped: int = 0
    """How many extra actions beyond the per-turn cap were ignored."""

    @property
    def ok(self) -> bool:
        return self.error is None


#: Texts up to this length have their parse remembered (an LRU of 4096 per process).
_CACHED_CHARS = 256


@dataclass(frozen=True)
class ActionFormat:
    """How an environment reads actions out of the agent's text."""

    answer_tag: str | None = "answer"
    """Tag that wraps the action, e.g. ``answer`` for ``<answer>Up</answer>``; ``None`` reads the
    whole text as the action."""
    require_tag: bool = False
    """When true, text without the answer tag is a format error; when false the whole text (minus
    any ``<think>`` block) is read as the action."""
    separator: str = "||"
    """Separator between several actions in one turn."""
    max_actions: int = 1
    """Cap on actions executed per turn; extra actions are dropped and counted."""

    def __post_init__(self) -> None:
        if self.max_actions < 1:
            raise ValueError(f"max_actions must be >= 1, got {self.max_actions}")

    def parse(self, text: str) -> ParsedTurn:
        if not isinstance(text, str):
            return ParsedTurn(error=f"the action must be text, got {type(text).__name__}")
        if len(text) <= _CACHED_CHARS:  # policies repeat a few short actions: parse each text once
            return _parse_cached(self, text)
        return self._parse(text)

    def _parse(self, text: str) -> ParsedTurn:
        body = self._body(text)
        if body is None:
            return ParsedTurn(error=f"no <{self.answer_tag}>...</{self.answer_tag}> block found")
        actions = split_actions(body, self.separator)
        if not actions:
            return ParsedTurn(error="the action is empty")
        kept = tuple(actions[: self.max_actions])
        return ParsedTurn(actions=kept, dropped=len(actions) - len(kept))

    def _body(self, text: str) -> str | None:
        if self.answer_tag:
            tagged = extract_tag(text, self.answer_tag)
            if tagged is not None:
                return tagged
            if self.require_tag:
                return None
        return re.sub(r"<think>.*?</think>", "", text, flags=re.DOTALL)

    def instructions(self) -> str:
        """One sentence telling the agent how to format its answer."""
        where = f"inside <{self.answer_tag}></{self.answer_tag}>" if self.answer_tag else "as plain text"
        if self.max_actions == 1:
            return f"Give exactly one action {where}."
        return (
            f"Give up to {self.max_actions} actions {where}, separated by '{self.separator}'; "
            "they run in order."
        )


@lru_cache(maxsize=4096)
def _parse_cached(action_format: ActionFormat, text: str) -> ParsedTurn:
    return action_format._parse(text)  # noqa: SLF001 - the cache wraps the format's own parser
