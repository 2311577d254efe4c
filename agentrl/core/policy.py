"""The acting side: the ``Policy`` protocol and simple built-in policies.

A policy maps a batch of :class:`PolicyInput` (one per live episode) to a batch of
:class:`ActionOutput`. It is stateless across calls: everything it needs about an episode is in
the input, including the previous turns with their exact token ids, so a language-model policy can
rebuild its context without re-tokenising anything.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from agentrl.core.trajectory import Turn


@dataclass
class PolicyInput:
    """Everything a policy may use to choose one episode's next action."""

    observation: Any
    instructions: str = ""
    """The env's rules, used as the system prompt."""
    history: Sequence[Turn] = ()
    """Earlier turns of this episode, oldest first."""
    info: dict[str, Any] = field(default_factory=dict)
    """The latest step info (``available_actions`` among others)."""
    episode_key: int = 0
    """Stable id of the episode within one rollout call (for policies with per-episode state)."""


@dataclass
class ActionOutput:
    """A policy's action for one episode, with its token-level record when it has one."""

    text: str
    token_ids: list[int] = field(default_factory=list)
    logprobs: list[float] = field(default_factory=list)
    loss_mask: list[int] = field(default_factory=list)
    new_context: bool = True
    generation_truncated: bool = False
    context_exhausted: bool = False
    """The context limit is reached: the episode ends truncated and ``text`` is not executed."""
    policy_version: int = 0
    """Version of the weights that produced the action (asynchronous training bounds staleness by it)."""


@runtime_checkable
class Policy(Protocol):
    """Anything with a batched ``act``."""

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]: ...


@runtime_checkable
class TrainablePolicy(Policy, Protocol):
    """An acting policy whose weights a learner updates (language models, grid networks, vLLM).

    ``load_weights`` is the only channel from the learner to the sampler; ``reseed`` makes sampling
    reproducible per iteration; ``evaluation_view`` is the same weights acting with evaluation
    settings (greedy or sampling) and a fresh seed, so evaluation never reuses training sampling.
    """

    def reseed(self, seed: int) -> None: ...

    def load_weights(self, state_dict: Mapping[str, Any]) -> None: ...

    def evaluation_view(self, *, greedy: bool, seed: int) -> Policy: ...


def wrap_answer(action: str, tag: str | None = "answer") -> str:
    return f"<{tag}>{action}</{tag}>" if tag else action


class RandomPolicy:
    """Uniform over ``info['available_actions']`` when the env lists them, else over ``actions``.

    With neither, it emits random printable text (useful for fuzzing an env's parser).
    """

    def __init__(self, actions: Sequence[str] | None = None, *, seed: int | None = None, tag: str | None = "answer"):
        self.actions = list(actions) if actions else None
        self.rng = np.random.default_rng(seed)
        self.tag = tag

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        outputs = []
        for item in inputs:
            choices = item.info.get("available_actions") or self.actions
            if choices:
                text = wrap_answer(str(choices[int(self.rng.integers(len(choices)))]), self.tag)
            else:
                length = int(self.rng.integers(1, 24))
                text = "".join(chr(int(c)) for c in self.rng.integers(32, 127, size=length))
            outputs.append(ActionOutput(text=text))
        return outputs


class ScriptedPolicy:
    """Turns a plain function ``PolicyInput -> str`` into a batched policy.

    ``ScriptedPolicy(lambda x: "<answer>Up</answer>")`` is a complete policy; so is a closed-loop
    planner that reads the observation. Returning ``None`` ends the episode as truncated.
    """

    def __init__(self, choose: Callable[[PolicyInput], str | None]):
        self.choose = choose

    def act(self, inputs: Sequence[PolicyInput]) -> list[ActionOutput]:
        outputs = []
        for item in inputs:
            text = self.choose(item)
            outputs.append(ActionOutput(text="", context_exhausted=True) if text is None else ActionOutput(text=text))
        return outputs


class ReplayPolicy(ScriptedPolicy):
    """Plays a fixed list of action texts, one per turn (the same script for every episode)."""

    def __init__(self, script: Sequence[str]):
        self.script = list(script)
        super().__init__(self._next)

    def _next(self, item: PolicyInput) -> str | None:
        turn = len(item.history)
        return self.script[turn] if turn < len(self.script) else None
