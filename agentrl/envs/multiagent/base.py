"""The native multi-agent text env contract: turn-based, one text observation per agent.

A :class:`MultiAgentTextEnv` is the multi-agent sibling of :class:`~agentrl.core.env.TextEnv`. Named
agents take turns; ``current_agent`` says whose move it is, and ``step(text)`` plays that agent's
raw text. Every call returns one value per agent, the way PettingZoo's Parallel API does::

    observations, infos = env.reset(seed=0)
    while env.agents:
        text = policy(observations[env.current_agent])
        observations, rewards, terminations, truncations, infos = env.step(text)

The base class owns what must be identical across games, exactly as ``TextEnv`` does for one agent:
parsing with :class:`~agentrl.core.actions.ActionFormat`, the format penalty (a malformed action
never raises; the same agent moves again), optional free-text messages to the other agents, the
turn limit (``truncated`` for everyone, never ``terminated``) and the standard step-info keys
(``reward_components``, ``success``, ``action_valid``, ``progress``) for every agent.

Each agent's observation holds what happened since that agent last moved (other agents' moves and
messages, its own errors), followed by its private view of the state. ``expose.py`` turns these envs
into PettingZoo AEC or Parallel envs.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import gymnasium as gym
import numpy as np
from gymnasium.utils import seeding

from agentrl.core.actions import ActionFormat, extract_tag
from agentrl.core.config import build_config
from agentrl.core.spaces import TextSpace

Rewards = dict[str, dict[str, float]]
"""Named reward components per agent: ``{agent: {component: value}}``."""


@dataclass
class MultiAgentTextEnvConfig:
    """Settings shared by every multi-agent text env."""

    max_turns: int = 20
    """Moves (all agents together) before the episode is truncated for everyone."""
    format_penalty: float = -0.1
    """Reward added to an agent whose text is malformed or names an invalid move."""
    action_format: ActionFormat = field(default_factory=ActionFormat)
    """How a move is read from the agent's text (tag, separator, per-turn cap)."""
    message_tag: str | None = None
    """Tag for free text shown to the other agents (``<message>Deal?</message>``); ``None``: no talk."""
    max_message_chars: int = 500
    """Messages are cut to this many characters."""
    max_action_chars: int = 1 << 16
    """Longest action text accepted by the action space."""
    observation_mode: str = "text"
    """``text``, or ``dict`` for ``{"text": str, "observation": numeric features}`` (neural policies,
    PettingZoo tooling that expects NumPy observations)."""

    def __post_init__(self) -> None:
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {self.max_turns}")
        if self.observation_mode not in ("text", "dict"):
            raise ValueError(f"observation_mode must be 'text' or 'dict', got {self.observation_mode!r}")


@dataclass
class Move:
    """What one parsed move did (returned by a subclass's ``apply_move``)."""

    valid: bool = True
    """False when the move is not allowed; the state must then be unchanged."""
    message: str = ""
    """Why the move was invalid (shown to the mover only)."""
    event: str = ""
    """What happened, shown to every agent (``"player_0 proposes ..."``)."""
    rewards: Rewards = field(default_factory=dict)
    """Reward components the move gives, by agent (any agent, not only the mover)."""
    terminated: bool = False


class MultiAgentTextEnv:
    """Base class for turn-based multi-agent text games (see module docstring)."""

    Config: ClassVar[type[MultiAgentTextEnvConfig]] = MultiAgentTextEnvConfig
    possible_agents: ClassVar[tuple[str, ...]] = ()
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "name": "multiagent_text"}

    def __init__(
        self,
        config: MultiAgentTextEnvConfig | Mapping[str, Any] | None = None,
        *,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        if len(self.possible_agents) < 2:
            raise TypeError(f"{type(self).__name__}.possible_agents must name at least two agents")
        self.config = build_config(self.Config, config, overrides, where=type(self).__name__)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(
                f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}"
            )
        self.render_mode = render_mode
        self._observation_spaces = {agent: self._make_observation_space() for agent in self.possible_agents}
        self._action_spaces = {agent: self.move_space() for agent in self.possible_agents}
        self.np_random, _ = seeding.np_random()
        self.agents: list[str] = []
        self.current_agent: str = self.possible_agents[0]
        self.task_id = ""
        self._turn = 0
        self._events: list[str] = []
        self._seen: dict[str, int] = {}
        self._error: dict[str, str] = {}
        self._invalid: dict[str, int] = {}
        self._last_valid: dict[str, bool] = {}

    # ----------------------------------------------------------------- hooks for subclasses
    def reset_state(self, seed: int | None, options: Mapping[str, Any]) -> None:
        """Build the initial state from ``self.np_random`` (set ``current_agent`` if not the first)."""
        raise NotImplementedError

    def apply_move(self, agent: str, action: str) -> Move:
        """Play one parsed move of ``agent`` (who is ``current_agent``)."""
        raise NotImplementedError

    def next_agent(self) -> str:
        """Who moves after a valid move; round-robin by default."""
        order = self.possible_agents
        return order[(order.index(self.current_agent) + 1) % len(order)]

    def render_for(self, agent: str) -> str:
        """The state as ``agent`` sees it (its private information included)."""
        raise NotImplementedError

    def instructions(self, agent: str) -> str:
        """Rules of the game for ``agent``, suitable as its system prompt."""
        return self.config.action_format.instructions()

    def final_rewards(self, truncated: bool) -> Rewards:
        """Reward components every agent gets when the episode ends (outcome, judge score)."""
        return {}

    def is_success(self, agent: str) -> bool:
        return False

    def progress(self, agent: str) -> float:
        return 1.0 if self.is_success(agent) else 0.0

    def agent_info(self, agent: str) -> dict[str, Any]:
        """Extra per-agent info (private structured state, the outcome at the end)."""
        return {}

    def feature_space(self) -> gym.spaces.Box | None:
        """The space of ``features`` (``observation_mode="dict"``), or ``None`` for text only."""
        return None

    def features(self, agent: str) -> np.ndarray:
        """Numeric view of the state for ``agent``, inside ``feature_space()``."""
        raise NotImplementedError

    # ------------------------------------------------------------------------------ API
    def observation_space(self, agent: str) -> gym.Space:
        return self._observation_spaces[self._known(agent)]

    def action_space(self, agent: str) -> gym.Space:
        return self._action_spaces[self._known(agent)]

    def reset(self, *, seed: int | None = None, options: Mapping[str, Any] | None = None):
        if seed is not None:
            self.np_random, _ = seeding.np_random(seed)
        options = dict(options or {})
        self.agents = list(self.possible_agents)
        self._turn = 0
        self._events = []
        self._seen = {agent: 0 for agent in self.agents}
        self._error = {agent: "" for agent in self.agents}
        self._invalid = {agent: 0 for agent in self.agents}
        self._last_valid = {agent: True for agent in self.agents}
        self.current_agent = self.possible_agents[0]
        self.reset_state(seed, options)
        self.task_id = str(options.get("task_id") or (f"seed-{seed}" if seed is not None else "unseeded"))
        observations = {agent: self._observe(agent) for agent in self.agents}
        infos = {agent: self._info(agent, {}) for agent in self.agents}
        for info in infos.values():
            info["task_id"] = self.task_id
        return observations, infos

    def step(self, action: str):
        if not self.agents:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        agent = self.current_agent
        self._turn += 1
        move = self._play(agent, action)
        rewards: Rewards = {a: dict(move.rewards.get(a, {})) for a in self.possible_agents}
        rewards[agent].setdefault("format", 0.0)
        self._last_valid[agent] = move.valid
        if move.valid:
            self._events.append(move.event)
            self._seen[agent] = len(self._events)
            self._error[agent] = ""
        else:
            self._invalid[agent] += 1
            rewards[agent]["format"] += self.config.format_penalty
            self._error[agent] = f"Invalid move: {move.message}. {self._move_hint()}"
        if move.valid and not move.terminated:
            self.current_agent = self.next_agent()
        truncated = not move.terminated and self._turn >= self.config.max_turns
        if move.terminated or truncated:
            for name, components in self.final_rewards(truncated).items():
                for key, value in components.items():
                    rewards[name][key] = rewards[name].get(key, 0.0) + float(value)
            self.agents = []
        observations = {a: self._observe(a) for a in self.possible_agents}
        infos = {a: self._info(a, rewards[a]) for a in self.possible_agents}
        totals = {a: float(sum(rewards[a].values())) for a in self.possible_agents}
        terminations = dict.fromkeys(self.possible_agents, bool(move.terminated))
        truncations = dict.fromkeys(self.possible_agents, bool(truncated))
        return observations, totals, terminations, truncations, infos

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self.render_for(self.current_agent)
        return None

    def close(self) -> None:
        """Release resources (none by default)."""

    @property
    def turn(self) -> int:
        return self._turn

    def transcript(self) -> str:
        """Every public event so far (moves and messages), one per line."""
        return "\n".join(event for event in self._events if event)

    # ---------------------------------------------------------------------- internals
    def _known(self, agent: str) -> str:
        if agent not in self.possible_agents:
            raise KeyError(f"unknown agent {agent!r}; agents are {', '.join(self.possible_agents)}")
        return agent

    def _play(self, agent: str, text: Any) -> Move:
        parsed = self.config.action_format.parse(text)
        if not parsed.ok:
            return Move(valid=False, message=parsed.error or "malformed action")
        message = self._message(agent, text)
        move = self.apply_move(agent, parsed.actions[0])
        if move.valid and message:
            move.event = f"{move.event}\n{message}".strip()
        return move

    def _message(self, agent: str, text: str) -> str:
        tag = self.config.message_tag
        body = extract_tag(text, tag) if tag and isinstance(text, str) else None
        if not body:
            return ""
        return f'{agent} says: "{body[: self.config.max_message_chars]}"'

    def _move_hint(self) -> str:
        return self.config.action_format.instructions()

    def move_space(self) -> gym.Space:
        """Any text; override to make ``sample()`` draw plausible moves (conformance tests play them)."""
        return TextSpace(self.config.max_action_chars)

    def _make_observation_space(self) -> gym.Space:
        if self.config.observation_mode == "text":
            return TextSpace()
        box = self.feature_space()
        return gym.spaces.Dict({"text": TextSpace(), **({"observation": box} if box is not None else {})})

    def _observe(self, agent: str) -> Any:
        """Other agents' moves since ``agent`` last moved, its own error if any, then its view."""
        news = [event for event in self._events[self._seen[agent] :] if event]
        if self._error[agent]:
            news.append(self._error[agent])
        text = "\n".join(news + [self.render_for(agent)])
        if self.config.observation_mode == "text":
            return text
        space = self._observation_spaces[agent]
        return {
            "text": text,
            **({"observation": self.features(agent)} if "observation" in space.spaces else {}),
        }

    def _info(self, agent: str, components: dict[str, float]) -> dict[str, Any]:
        info: dict[str, Any] = {
            "reward_components": dict(components),
            "success": self.is_success(agent),
            "action_valid": self._last_valid[agent],
            "progress": float(self.progress(agent)),
            "turn": self._turn,
            "invalid_actions": self._invalid[agent],
            "agent": agent,
            "current_agent": self.current_agent,
        }
        info.update(self.agent_info(agent))
        return info
