"""The multi-turn, text-first environment contract.

A :class:`TextEnv` is a ``gymnasium.Env`` whose action is the raw text an agent produced. The base
class owns everything that must be identical across environments, and no subclass re-implements it:

* parsing the text into actions (:class:`~agentrl.core.actions.ActionFormat`), RAGEN style, and the
  ``max_action_chars`` cap;
* the format penalty and the count of invalid actions;
* the turn limit, which sets ``truncated`` and never ``terminated``;
* the episode's end: :meth:`TextEnv.finish_episode` runs exactly once, on the turn that ends it;
* the standard step-info keys (:data:`STEP_INFO_KEYS`) and ``reward == sum(reward_components)``.

A subclass implements the game in public hooks (never underscore methods):

=====================================  ===========================================================
hook                                   what it does
=====================================  ===========================================================
``reset_state(seed, options)``         build the initial state (randomness from ``self.np_random``)
``step_action(action) -> Transition``  apply one parsed action (invalid: ``valid=False``, no change)
``render_text() -> str``               the current state as text
``instructions() -> str``              the task's rules (the system prompt)
``is_success() -> bool``               the episode's goal is reached
``progress() -> float``                fraction of the task done, in [0, 1]
``task_id_for(seed) -> str``           the id of the task ``reset`` drew
``finish_episode(terminated,           final rewards and info when the episode ends (graders,
truncated) -> EpisodeEnd``             answer checks); runs once per episode
``extra_info() -> dict``               env-specific keys added to every ``info``
``wrap_observation(text)``             text -> observation (e.g. a ``Dict`` with a grid)
``run_turn(parsed) -> TurnOutcome``    a whole turn, for protocols that read the full text
``format_error(reason) -> str``        the explanation shown for an invalid action
``available_actions()``,               optional: valid actions now, subgoal names, a scripted
``subgoals()``, ``expert_policy()``    expert
``reward_bounds() -> RewardBounds``    documented per-turn and per-episode reward range
``reward_preset() -> list[dict]``      the env's shipped reward-pipeline stages (configs)
``evaluation_tasks(split)``            a published split's fixed tasks, as ``reset`` options
``evaluation_splits()``                the split names ``evaluation_tasks`` accepts
=====================================  ===========================================================

:func:`agentrl.core.check_text_env` checks an env against this contract.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar, Mapping

import gymnasium as gym

from agentrl.core.actions import ActionFormat, ParsedTurn
from agentrl.core.config import build_config
from agentrl.core.spaces import TextSpace

#: Keys present in the ``info`` dict of every ``reset`` and ``step``.
STEP_INFO_KEYS = ("reward_components", "success", "action_valid", "progress")

#: Characters of an agent's own text quoted back in an error message.
QUOTE_CHARS = 80


def quote(text: str, limit: int = QUOTE_CHARS) -> str:
    """``repr`` of ``text``, cut to ``limit`` characters with a count of what was left out.

    Error messages quote the agent's text only in part: echoing a 200 KB action back would put it
    into the next prompt.
    """
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text) - limit} more characters)"


@dataclass
class TextEnvConfig:
    """Settings shared by every text environment."""

    max_turns: int = 30
    """Turn limit. Reaching it ends the episode with ``truncated=True`` (never ``terminated``)."""
    format_penalty: float = -0.1
    """Reward added on a turn whose text is malformed or names an invalid action (<= 0)."""
    action_format: ActionFormat = field(default_factory=ActionFormat)
    """How actions are read from the agent's text (tag, separator, per-turn cap)."""
    max_action_chars: int = 1 << 16
    """Longest action text accepted; longer text is an invalid action (quoted in part)."""

    def __post_init__(self) -> None:
        if self.max_turns < 1:
            raise ValueError(f"max_turns must be >= 1, got {self.max_turns}")
        if not math.isfinite(self.format_penalty) or self.format_penalty > 0:
            raise ValueError(f"format_penalty must be a finite number <= 0, got {self.format_penalty}")
        if self.max_action_chars < 1:
            raise ValueError(f"max_action_chars must be >= 1, got {self.max_action_chars}")


@dataclass
class Transition:
    """What one parsed action did to the environment."""

    reward_components: dict[str, float] = field(default_factory=dict)
    terminated: bool = False
    truncated: bool = False
    """The env's own time limit ran out (e.g. a game engine's step cap): a truncation, not an ending."""
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
    truncated: bool = False
    valid: bool = True
    messages: list[str] = field(default_factory=list)
    subgoals: list[str] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=lambda: {"actions_executed": 0})


@dataclass
class EpisodeEnd:
    """What :meth:`TextEnv.finish_episode` adds to the turn that ends the episode."""

    reward_components: dict[str, float] = field(default_factory=dict)
    """Final rewards (a grader's outcome, an answer's score), added to the last turn's components."""
    info: dict[str, Any] = field(default_factory=dict)
    message: str = ""
    """Shown below the final observation."""


@dataclass(frozen=True)
class RewardBounds:
    """The documented range of an env's reward: per turn (``step``) and per episode (``episode``)."""

    step: tuple[float, float] = (-math.inf, math.inf)
    episode: tuple[float, float] = (-math.inf, math.inf)

    def __post_init__(self) -> None:
        for name in ("step", "episode"):
            low, high = getattr(self, name)
            if low > high:
                raise ValueError(f"RewardBounds.{name}: low {low} > high {high}")

    @property
    def finite(self) -> bool:
        return all(math.isfinite(v) for v in (*self.step, *self.episode))


class TextEnv(gym.Env[Any, str]):
    """Base class for multi-turn text environments (see module docstring)."""

    Config: ClassVar[type[TextEnvConfig]] = TextEnvConfig
    metadata: ClassVar[dict[str, Any]] = {"render_modes": ["ansi"], "render_fps": 4}
    needs_reward_preset: ClassVar[bool] = False
    """True when the raw per-turn rewards can be farmed without the env's reward preset (e.g. SWE's
    small rewards for tool calls): ``agentrl train`` then uses the preset unless ``rewards`` is set."""

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
        self._done = False

    # ----------------------------------------------------------------- hooks for subclasses
    def reset_state(self, seed: int | None, options: Mapping[str, Any]) -> None:
        """Build the initial state, drawing randomness from ``self.np_random`` (seeded by ``reset``)."""
        raise NotImplementedError

    def step_action(self, action: str) -> Transition:
        """Apply one parsed action. Invalid actions return ``Transition(valid=False, ...)``."""
        raise NotImplementedError

    def render_text(self) -> str:
        """The current state as text."""
        raise NotImplementedError

    def instructions(self) -> str:
        """Rules of the task, suitable as a system prompt."""
        return self.config.action_format.instructions()

    def is_success(self) -> bool:
        """Whether the episode's goal is reached."""
        return False

    def progress(self) -> float:
        """Fraction of the task done, in [0, 1]; 1.0 on success by default."""
        return 1.0 if self.is_success() else 0.0

    def task_id_for(self, seed: int | None) -> str:
        """The id of the task the last ``reset`` drew (``options['task_id']`` overrides it)."""
        return f"seed-{seed}" if seed is not None else "unseeded"

    def finish_episode(self, terminated: bool, truncated: bool) -> EpisodeEnd:
        """Called once, on the turn that ends the episode: final rewards, info and a closing message."""
        return EpisodeEnd()

    def extra_info(self) -> dict[str, Any]:
        """Env-specific keys added to every ``info`` (after the standard ones)."""
        return {}

    def wrap_observation(self, text: str) -> Any:
        """Wrap text into the observation; override to return a ``Dict`` observation."""
        return text

    def run_turn(self, parsed: ParsedTurn) -> TurnOutcome:
        """Run a turn's actions in order, stopping at the first invalid or ending one.

        Override this when a turn is more than a list of actions, as in protocols that read the
        whole text; ``step`` still applies the format penalty, the turn limit, the episode's end
        and the info keys.
        """
        out = TurnOutcome()
        if not parsed.ok:
            out.valid = False
            out.messages.append(self.format_error(parsed.error or "malformed action"))
            return out
        for action in parsed.actions:
            transition = self.step_action(action)
            if not transition.valid:
                out.valid = False
                out.messages.append(self.format_error(transition.message or f"invalid action {quote(action)}"))
                break
            out.info["actions_executed"] += 1
            for name, value in transition.reward_components.items():
                out.reward_components[name] = out.reward_components.get(name, 0.0) + float(value)
            out.subgoals.extend(transition.subgoals)
            out.info.update(transition.info)
            if transition.message:
                out.messages.append(transition.message)
            if transition.terminated or transition.truncated:
                out.terminated, out.truncated = transition.terminated, transition.truncated and not transition.terminated
                break
        if parsed.dropped:
            out.messages.append(f"Note: only the first {self.config.action_format.max_actions} action(s) were run.")
        return out

    def format_error(self, reason: str) -> str:
        """The observation line for an invalid action."""
        choices = self.available_actions()
        hint = f" Valid actions: {', '.join(choices)}." if choices else ""
        return f"Invalid action: {reason}. {self.config.action_format.instructions()}{hint}"

    def available_actions(self) -> list[str] | None:
        """The actions that are valid now, when the env can enumerate them."""
        return None

    def expert_policy(self):
        """A built-in expert (a ``Policy``) for this env, or ``None``; used by ``--policy expert``."""
        return None

    def subgoals(self) -> list[str]:
        """Names of the subgoals this task has (for CALM's oracle judge and monitors)."""
        return []

    def reward_bounds(self) -> RewardBounds:
        """The range of the reward per turn and per episode under this env's config (documented)."""
        return RewardBounds()

    def evaluation_tasks(self, split: str) -> list[dict[str, Any]] | None:
        """The fixed tasks of a published evaluation split, in order, as ``reset`` options (each
        played once, e.g. WebShop's test goals 0..499); ``None`` when the env has no such split."""
        return None

    def evaluation_splits(self) -> list[str]:
        """The split names :meth:`evaluation_tasks` accepts (what an error lists)."""
        return []

    @classmethod
    def reward_preset(cls) -> list[dict[str, Any]]:
        """This env's shipped reward pipeline, as stage configs (``rewards=preset`` uses it)."""
        return []

    # ------------------------------------------------------------------------ gym API
    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None) -> tuple[Any, dict]:
        super().reset(seed=seed)
        options = dict(options or {})
        self._turn = 0
        self._invalid_actions = 0
        self._done = False
        self.reset_state(seed, options)
        self.task_id = str(options.get("task_id") or self.task_id_for(seed))
        info = self._info({}, action_valid=True, success=False)
        info["task_id"] = self.task_id
        return self.wrap_observation(self.render_text()), info

    def step(self, action: str) -> tuple[Any, float, bool, bool, dict]:
        if self._done:
            raise RuntimeError("step() called after the episode ended; call reset() first")
        self._turn += 1
        if isinstance(action, str) and len(action) > self.config.max_action_chars:
            reason = (f"the action has {len(action)} characters, more than the limit of "
                      f"{self.config.max_action_chars}; it starts {quote(action)}")
            return self._end_turn(TurnOutcome(valid=False, messages=[self.format_error(reason)]))
        return self._end_turn(self.run_turn(self.config.action_format.parse(action)))

    def _end_turn(self, outcome: TurnOutcome) -> tuple[Any, float, bool, bool, dict]:
        """``step``'s result from what the turn did: format penalty, turn limit, ending, info."""
        components = outcome.reward_components
        if not outcome.valid:
            self._invalid_actions += 1
            components["format"] = components.get("format", 0.0) + self.config.format_penalty
        else:
            components.setdefault("format", 0.0)
        terminated = outcome.terminated
        truncated = not terminated and (outcome.truncated or self._turn >= self.config.max_turns)
        self._done = terminated or truncated
        messages, extra = outcome.messages, outcome.info
        closing = ""
        if self._done:
            end = self.finish_episode(terminated, truncated)
            for name, value in end.reward_components.items():
                components[name] = components.get(name, 0.0) + float(value)
            extra = {**extra, **end.info}
            closing = end.message
        info = self._info(components, action_valid=outcome.valid, success=self._done and self.is_success())
        info.update(extra)
        info["subgoals"] = {name: name in outcome.subgoals for name in self.subgoals()}
        info["actions_executed"] = extra.get("actions_executed", 0)
        text = self.render_text()
        if messages:
            text = "\n".join(messages) + "\n" + text
        if closing:
            text = f"{text}\n{closing}"
        reward = float(sum(components.values()))
        return self.wrap_observation(text), reward, terminated, truncated, info

    def _info(self, components: dict[str, float], *, action_valid: bool, success: bool) -> dict[str, Any]:
        info: dict[str, Any] = {
            "reward_components": components,
            "success": success,
            "action_valid": action_valid,
            "progress": float(self.progress()),
            "turn": self._turn,
            "invalid_actions": self._invalid_actions,
        }
        actions = self.available_actions()
        if actions is not None:
            info["available_actions"] = actions
        info.update(self.extra_info())
        return info

    def render(self) -> str | None:
        if self.render_mode == "ansi":
            return self.render_text()
        return None

    @property
    def turn(self) -> int:
        """Turns played in the current episode."""
        return self._turn

    @property
    def done(self) -> bool:
        """The current episode has ended (``reset`` starts the next)."""
        return self._done

    def config_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self.config)
