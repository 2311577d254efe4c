"""Text in and out for PettingZoo agents: observations become text, the agent's text becomes an action.

agentrl text envs need nothing: their observations are text (or a dict with a ``text`` entry) and
their ``Text`` action space takes the raw text, which the env parses itself. Other PettingZoo envs
have numeric observations and ``Discrete`` actions; :class:`AgentIO` renders the observation (with
the legal actions from an ``action_mask``) and reads an action index or name from the text.
"""

from __future__ import annotations

import re
from typing import Any, Callable, Sequence

import numpy as np
from gymnasium import spaces

from agentrl.core.actions import ActionFormat

Renderer = Callable[[Any], str]
"""Turns one raw observation into text."""


def default_render(observation: Any) -> str:
    """A readable text for common PettingZoo observations."""
    if isinstance(observation, str):
        return observation
    if isinstance(observation, dict):
        if isinstance(observation.get("text"), str):
            return observation["text"]
        return "\n".join(
            f"{key}: {default_render(value)}" for key, value in observation.items() if key != "action_mask"
        )
    if isinstance(observation, np.ndarray):
        if observation.ndim == 3:  # planes (rows x cols x channels), as in board games: one grid per plane
            planes = [
                np.array2string(observation[..., k], separator=" ") for k in range(observation.shape[-1])
            ]
            return "\n".join(f"plane {k}:\n{plane}" for k, plane in enumerate(planes))
        return np.array2string(observation, separator=" ", threshold=10_000)
    return str(observation)


def legal_actions(observation: Any, info: dict[str, Any] | None) -> list[int] | None:
    """Indices allowed by an ``action_mask`` in the observation or the info, if there is one."""
    mask = None
    if isinstance(observation, dict) and "action_mask" in observation:
        mask = observation["action_mask"]
    elif info and "action_mask" in info:
        mask = info["action_mask"]
    return None if mask is None else [int(i) for i in np.flatnonzero(np.asarray(mask))]


class AgentIO:
    """Observation-to-text and text-to-action for one agent's spaces."""

    def __init__(
        self,
        action_space: spaces.Space,
        *,
        action_names: Sequence[str] | None = None,
        render: Renderer | None = None,
        answer_tag: str | None = "answer",
    ):
        if not isinstance(action_space, (spaces.Text, spaces.Discrete)):
            raise TypeError(
                f"cannot read actions for a {type(action_space).__name__} space from text; supported: Text "
                "(the env parses text itself) and Discrete (an index or a name in action_names)"
            )
        self.action_space = action_space
        self.text_native = isinstance(action_space, spaces.Text)
        self.render = render or default_render
        self.format = ActionFormat(answer_tag=answer_tag)
        n = 0 if self.text_native else int(action_space.n)  # type: ignore[attr-defined]
        if action_names is not None and len(action_names) != n:
            raise ValueError(f"action_names has {len(action_names)} names for {n} actions")
        self.action_names = list(action_names) if action_names is not None else None

    def text(self, observation: Any, info: dict[str, Any] | None = None) -> str:
        """The observation as text, with the legal actions listed when the env masks them."""
        body = self.render(observation)
        if self.text_native:
            return body
        legal = legal_actions(observation, info)
        choices = legal if legal is not None else list(self._indices())
        return f"{body}\nLegal actions: {', '.join(self._label(i) for i in choices)}"

    def available_actions(self, observation: Any, info: dict[str, Any] | None = None) -> list[str] | None:
        """The legal actions as texts ``decode`` reads (``None`` for text envs, which parse themselves)."""
        if self.text_native:
            return None
        legal = legal_actions(observation, info)
        indices = legal if legal is not None else list(self._indices())
        if self.action_names is None:
            return [str(i) for i in indices]
        return [self.action_names[i - self._indices().start] for i in indices]

    def instructions(self, agent: str) -> str:
        if self.text_native:
            return ""
        how = "its number" + (" or its name" if self.action_names else "")
        return f"You are {agent}. Each turn, choose one legal action by {how}. {self.format.instructions()}"

    def decode(
        self, text: str, observation: Any, info: dict[str, Any] | None = None
    ) -> tuple[Any, str | None]:
        """``(action, None)``, or ``(None, reason)`` when the text names no legal action."""
        if self.text_native:
            return text, None
        parsed = self.format.parse(text)
        if not parsed.ok:
            return None, parsed.error
        choice = self._index(parsed.actions[0])
        if choice is None:
            return None, f"{parsed.actions[0][:60]!r} names no action"
        legal = legal_actions(observation, info)
        if legal is not None and choice not in legal:
            return None, f"action {self._label(choice)} is not legal now"
        return choice, None

    def _indices(self) -> range:
        start = int(self.action_space.start)  # type: ignore[attr-defined]
        return range(start, start + int(self.action_space.n))  # type: ignore[attr-defined]

    def _label(self, index: int) -> str:
        if self.action_names is None:
            return str(index)
        return f"{index} ({self.action_names[index - self._indices().start]})"

    def _index(self, body: str) -> int | None:
        body = body.strip().strip(".")
        if self.action_names is not None:
            for offset, name in enumerate(self.action_names):
                if body.lower() == name.lower():
                    return self._indices().start + offset
        match = re.fullmatch(r"-?\d+", body)
        if match is None or int(body) not in self._indices():
            return None
        return int(body)
