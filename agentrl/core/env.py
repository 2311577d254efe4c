"""The multi-turn, text-first environment contract.

A :class:`TextEnv` is a ``gymnasium.Env`` whose action is the raw text an agent produced. The base
class owns everything that must be identical across environments:

* parsing the text into actions (:class:`~agentrl.core.actions.ActionFormat`), RAGEN style;
* the format penalty and the count of invalid actions;
* the turn limit, which sets ``truncated`` and never ``terminated``;
* the standard step-info keys (:data:`STEP_INFO_KEYS`).

A subclass implements the game itself in four small hooks: ``_reset_state``, ``_step_action``,
``_render_text`` and ``instructions``; optionally ``_progress``, ``available_actions`` and
``subgoals``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import gymnasium as gym

from agentrl.core.actions import ActionFormat, ParsedTurn
from agentrl.core.config import build_config
from agentrl.core.spaces import TextSpace

#: Keys present in the ``info`` dict of every ``reset`` and ``step``.
STEP_INFO_KEYS = ("reward_components", "success", "action_valid", "progress")


@dataclass
class TextEnvConfig:
    """Settings shared by every text environment."""

    max_turns: int = 30
    """Turn limit. Reaching it ends the episode with ``truncated=True`` (never ``terminated``)."""
    format_penalty: float = -0.1
    """Reward added on a turn whose text is malformed or names an invalid action."""
    action_format: ActionFormat = field(default_factory=ActionFormat)
    """How actions are read from the agent's text (tag, separator, per-turn cap)."""
    max_action_chars: int = 1 << 16
    """Longest action text accepted by the action space."""

    def __post_init__(self) -> None:
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {self.max_turns}")


@dataclass
class Transition:
    """What one parsed action did to the environment."""

    reward_components: dict[str, float] = field(default_factory=dict)
    terminated: bool = False
    valid: bool = True
    """False when the action was not understood or not allowed; the state must be unchanged."""
    message: str = ""
    """Feedback shown to the agent above the next observation (errors, game messages)."""
    subgoals: tuple[str, ...] = ()
    """Names of subgoals this transition achieved."""
    info: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnOutcome:
    """What one whole turn (all of its parsed actions) did."""

    reward_components: dict[str, float] = field(default_factory=dict)
    terminated: bool = False
    valid: bool = True
    messages: list[str] = field(default_factory=list)
    subgoals: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=lambda: {"actions_executed": 0})


class TextEnv(gym.Env[Any, str]):
    """Base class for multi-turn text environments (see module docstring)."""

    Config: ClassVar[type[TextEnvConfig]] = TextEnvConfig
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}

    def __init__(
        self,
        config: TextEnvConfig | Mapping[str, Any] | None = None,
        *,
        render_mode: str | None = None,
        **overrides: Any,
    ) -> None:
        self.config = build_config(self.Config, config, overrides, where=type(self).__name__)
        if render_mode is not None and render_mode not in self.metadata["render_modes"]:
            raise ValueError(f"render_mode must be one of {self.metadata['render_modes']}, got {render_mode!r}")
        self.render_mode = render_mode
        self.action_space = TextSpace(self.config.max_action_chars)
        self.observation_space = TextSpace()
        self.task_id = ""
        self._turn = 0
        self._invalid_actions = 0
        self._success = False
        self._done = False

    # ----------------------------------------------------------------- hooks for subclasses
    def _reset_state(self, options: Mapping[str, Any]) -> None:
        """Build the initial state, drawing randomness from ``self.np_random``."""
        raise NotImplementedError

    def _step_action(self, action: str) -> Transition:
        """Apply one parsed action. Invalid actions return ``Transition(valid=False, ...)``."""
        raise NotImplementedError

    def _render_text(self) -> str:
        """The current state as text."""
        raise NotImplementedError

    def instructions(self) -> str:
        """Rules of the task, suitable as a system prompt."""
        return self.config.action_format.instructions()

    def _progress(self) -> float:
        """Fraction of the task done, in [0, 1]; 1.0 on success by default."""
        return 1.0 if self._success else 0.0

    def _is_success(self) -> bool:
        return False

    def available_actions(self) -> list[str] | None:
        """The currently valid actions, when the env can enumerate them."""
        return None

    def expert_policy(self):
        """A built-in expert (a ``Policy``) for this env, or ``None``; used by ``--policy expert``."""
        return None

    def subgoals(self) -> list[str]:
        """Names of the subgoals this task has (for CALM's oracle judge and monitors)."""
        return []

    def _observation(self, text: str) -> Any:
        """Wrap text into the observation; override to return a ``Dict`` observation."""
        return text

    # ------------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        options = dict(options or {})
        self._turn = 0
        self._invalid_actions = 0
        self._success = False
        self._done = False
        self._reset_state(options)
        self.task_id = str(options.get("task_id") or self._default_task_id(seed))
        info = self._info({}, action_valid=True)
        info["task_id"] = self.task_id
        return self._observation(self._render_text()), info

    def _default_task_id(self, seed: int | None) -> str:
        return f"seed-{seed}" if seed is not None else "unseeded"

    def step(self, action: str) -> tuple[Any, float, bool, bool, dict]:
        if self._done:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        self._turn += 1
        return self._end_turn(self._run_turn(self.config.action_format.parse(action)))

    def _end_turn(self, outcome: TurnOutcome) -> tuple[Any, float, bool, bool, dict]:
        """``step``'s result from what the turn did: format penalty, turn limit, info, observation."""
        components, terminated, valid = outcome.reward_components, outcome.terminated, outcome.valid
        messages, achieved, extra = outcome.messages, outcome.subgoals, outcome.info
        if not valid:
            self._invalid_actions += 1
            components["format"] = components.get("format", 0.0) + self.config.format_penalty
        else:
            components.setdefault("format", 0.0)
        self._success = self._is_success()
        truncated = not terminated and self._turn >= self.config.max_turns
        self._done = terminated or truncated
        info = self._info(components, action_valid=valid)
        info.update(extra)
        info["subgoals"] = {name: name in achieved for name in self.subgoals()}
        info["actions_executed"] = extra.get("actions_executed", 0)
        text = self._render_text()
        if messages:
            text = "\n".join(messages) + "\n" + text
        reward = float(sum(components.values()))
        return self._observation(text), reward, terminated, truncated, info

    def _run_turn(self, parsed: ParsedTurn) -> TurnOutcome:
        """Run a turn's actions in order, stopping at the first invalid or terminal one.

        Override this (rather than ``step``) when a turn is more than a list of actions, as in
        protocols that read the whole text; the base ``step`` still applies the format penalty,
        the turn limit and the info keys.
        """
        out = TurnOutcome()
        if not parsed.ok:
            out.valid = False
            out.messages.append(self._format_error(parsed.error or "malformed action"))
            return out
        for action in parsed.actions:
            transition = self._step_action(action)
            if not transition.valid:
                out.valid = False
                out.messages.append(self._format_error(transition.message or f"invalid action {action!r}"))
                break
            out.info["actions_executed"] += 1
            for name, value in transition.reward_components.items():
                out.reward_components[name] = out.reward_components.get(name, 0.0) + float(value)
            out.subgoals.extend(transition.subgoals)
            out.info.update(transition.info)
            if transition.message:
                out.messages.append(transition.message)
            if transition.terminated:
                out.terminated = True
                break
        if parsed.dropped:
            out.messages.append(f"Note: only the first {self.config.action_format.max_actions} action(s) were run.")
        return out

    def _format_error(self, reason: str) -> str:
        choices = self.available_actions()
        hint = f" Valid actions: {', '.join(choices)}." if choices else ""
        return f"Invalid action: {reason}. {self.config.action_format.instructions()}{hint}"

    def _info(self, components: dict[str, float], *, action_valid: bool) -> dict[str, Any]:
        info: dict[str, Any] = {
            "reward_components": components,
            "success": self._success,
            "action_valid": action_valid,
            "progress": float(self._progress()),
            "turn": self._turn,
            "invalid_actions": self._invalid_actions,
        }
        actions = self.available_actions()
        if actions is not None:
            info["available_actions"] = actions
        return info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self._render_text()
        return None

    @property
    def turn(self) -> int:
        return self._turn

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)
